"""Before/after galleries and PDF reports, from clients whose marketing consent is current."""

from datetime import date

import streamlit as st

from app_pages.common import database, photo_pixels, staff_only
from tracker import gallery, reports


@st.cache_data(show_spinner=False, max_entries=64)
def pair_picture(before_sha: str, after_sha: str, labels: tuple[str, str], mode: str, mark: str):
    """A gallery pair, composed once per photos and options."""
    return gallery.compose_pair(photo_pixels(before_sha), photo_pixels(after_sha), labels, mode, mark)


who = staff_only()
db = database()
st.title("Gallery & reports")
st.caption("Only clients whose marketing and photography consents are current today appear here. "
           "Exported images carry no EXIF data.")

LABELS = {"none": "none", "mask_eyes": "mask the eyes", "crop_lower_face": "crop to the lower face"}
mode = st.radio("De-identification", gallery.DEIDENTIFY, horizontal=True, key="deidentify", format_func=LABELS.get)
mark = st.text_input("Watermark", key="watermark")

with db.session() as s:
    pairs = gallery.eligible_pairs(s, date.today())
    if not pairs:
        st.info("No before/after pairs: no client with current marketing consent has two sessions of one view.")
        st.stop()
    chosen = []
    for pair in pairs:
        with st.container(border=True):
            label = (f"Client #{pair.client_id}, course #{pair.course_id}, {pair.view}: session "
                     f"{pair.before.session.number} ({pair.before.session.held_on}) and session "
                     f"{pair.after.session.number} ({pair.after.session.held_on})")
            if st.checkbox(label, value=True, key=f"pair_{pair.course_id}_{pair.view}"):
                chosen.append(pair)
            with st.spinner("Preparing the pair..."):
                image = pair_picture(pair.before.sha256, pair.after.sha256, gallery.pair_labels(pair), mode, mark)
            st.image(image, width="stretch")
            st.download_button("Download PNG", gallery.png_bytes(image), key=f"png_{pair.course_id}_{pair.view}",
                               file_name=f"course{pair.course_id}-{pair.view}.png", mime="image/png")
    if chosen and st.button(f"Build a PDF report of {len(chosen)} pair(s)", key="build_pdf", type="primary"):
        with st.spinner("Building the report..."):
            st.session_state.report_pdf = reports.report_pdf(s, db.store, who.name, chosen, mode, mark)
            s.commit()
if "report_pdf" in st.session_state:
    st.download_button("Download the PDF report", st.session_state.report_pdf, key="download_pdf",
                       file_name=f"before-after-{date.today()}.pdf", mime="application/pdf")
