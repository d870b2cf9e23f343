"""Before/after galleries and PDF reports, from clients whose marketing consent is current.

Pairs are offered only when their analysis judged them comparable (see
:func:`tracker.gallery.eligible_pairs`). Images come from the data folder's
cache, built once per photo and options, and the page shows a few pairs at a
time, so an option change rebuilds at most one page of pairs.
"""

from datetime import date

import streamlit as st

from app_pages.common import choose_clinic, database, staff_only
from app_pages.ui import plain
from tracker import gallery, reports
from tracker.templates import view_label

PER_PAGE = 6

who = staff_only()
db = database()
st.title("Gallery & reports")
st.caption("Only clients whose marketing and photography consents are current today appear here, and only pairs "
           "judged comparable with the first session. Exported images carry no EXIF data.")
clinic_id = choose_clinic(who, "Clinic", "gallery_clinic", every="All clinics")

LABELS = {"none": "none", "mask_eyes": "mask the eyes", "crop_lower_face": "crop to the lower face"}
mode = st.radio("De-identification", gallery.DEIDENTIFY, horizontal=True, key="deidentify", format_func=LABELS.get)
if mode != "none":
    st.caption("Body-area and scalp photos have no face to go by: either way they are cropped to the region "
               "marked on the baseline photo.")
mark = st.text_input("Watermark", key="watermark")


def pair_key(pair: gallery.GalleryPair) -> str:
    return f"pair_{pair.course_id}_{pair.view}"


def keep_choice(key: str) -> None:
    """Remember an unticked pair across pages (a widget not on screen forgets its state)."""
    excluded = st.session_state.setdefault("gallery_excluded", set())
    (excluded.discard if st.session_state[key] else excluded.add)(key)


def png_of(picture: gallery.PairPicture):
    """The PNG download at print resolution, made only when it is clicked (in another thread: no database)."""
    return lambda: gallery.png_bytes(gallery.pixels(picture.jpeg(db.store)))


def forget_withdrawn_report(pairs: list[gallery.GalleryPair]) -> None:
    """A report stays downloadable only while every pair in it is still offered: a client who withdrew consent
    since it was built (or whose photo was removed) takes it away at once."""
    built = st.session_state.get("report_pairs")
    if built is not None and not built <= {gallery.pair_key(p) for p in pairs}:  # the same photos, still offered
        for key in ("report_pdf", "report_pairs"):
            st.session_state.pop(key, None)
        st.info("The report built earlier is no longer available: a client in it no longer consents (or a photo "
                "in it changed). Build it again from the pairs below.")


with db.session() as s:
    pairs = gallery.eligible_pairs(s, who, date.today(), clinic_id)
    forget_withdrawn_report(pairs)
    if not pairs:
        st.info("No before/after pairs: no client with current marketing consent has a later session comparable "
                "with the first one in the same view.")
        st.stop()
    excluded = st.session_state.setdefault("gallery_excluded", set())
    pages = (len(pairs) + PER_PAGE - 1) // PER_PAGE
    page = st.number_input(f"Page (of {pages}, {len(pairs)} pairs)", 1, pages, 1, key="gallery_page") \
        if pages > 1 else 1
    shown = pairs[(page - 1) * PER_PAGE:page * PER_PAGE]
    pictures = gallery.pair_jpegs(db.store, shown, mode, mark, gallery.SCREEN_HEIGHT)
    for number, (pair, image) in enumerate(zip(shown, pictures), start=(page - 1) * PER_PAGE + 1):
        with st.container(border=True):
            label = (f"Client #{pair.client_id}, course #{pair.course_id}, {plain(view_label(pair.view))}: session "
                     f"{pair.before.session.number} ({pair.before.session.held_on}) and session "
                     f"{pair.after.session.number} ({pair.after.session.held_on})")
            key = pair_key(pair)
            st.checkbox(label, value=key not in excluded, key=key, on_change=keep_choice, args=(key,))
            st.image(image, width="stretch")
            st.download_button("Download PNG", png_of(gallery.pair_picture(db.store, pair, mode, mark)),
                               key=f"png_{pair.course_id}_{pair.view}",
                               file_name=f"before-after-{number}.png", mime="image/png",
                               on_click="ignore")
    chosen = [p for p in pairs if pair_key(p) not in excluded]
    if chosen and st.button(f"Build a PDF report of {len(chosen)} pair(s)", key="build_pdf", type="primary"):
        with st.spinner("Building the report..."):
            st.session_state.report_pdf = reports.report_pdf(s, db.store, who, chosen, mode, mark)
            st.session_state.report_pairs = {gallery.pair_key(p) for p in chosen}
            s.commit()
if "report_pdf" in st.session_state:
    st.download_button("Download the PDF report", st.session_state.report_pdf, key="download_pdf",
                       file_name=f"before-after-{date.today()}.pdf", mime="application/pdf")
