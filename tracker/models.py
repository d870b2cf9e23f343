"""The clinic's records, in its own words.

A :class:`Client` is screened (:class:`Screening`) and gives :class:`Consent`
for treatment, photography and marketing. A :class:`Course` of treatment has
:class:`Session` s, each with the :class:`ProductUse` s injected and the
:class:`Photo` s taken, by :data:`VIEWS`. A photo's original bytes live in the
photo store (content-addressed by SHA-256); the database holds its metadata
and its :class:`PhotoAnalysis`. :class:`AuditEvent` records who did what, and in which clinic.
Staff sign in as :class:`User`; clients with a personal access code; :class:`SignInFailure`
counts failed attempts; the first admin is created with a :class:`SetupToken`.

A group of clinics shares one database: each :class:`Client` belongs to one
:class:`Clinic`, each staff member to one or more (``clinic_staff``). A
practitioner sees only their clinics' clients; an ``admin`` is the group's
admin and sees every clinic (see :mod:`tracker.access`). A single clinic
needs no setup: the schema starts with one, "Main clinic".

A medical record is amended, never overwritten: each correction keeps the
previous field values in a :class:`RecordVersion`, with who changed it, when
and why. A removed photo keeps its row (``removed_at``) and its original
until the client is erased; :attr:`Session.photos` lists only the photos
still in the record. A course's baseline of a view is the photo chosen in
:class:`ViewBaseline`, else the earliest photo of that view.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import NamedTuple

from sqlalchemy import (JSON, Boolean, CheckConstraint, Column, Date, DateTime, Float, ForeignKey, Integer, String,
                        Table, Text, UniqueConstraint)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

VIEWS = ("front", "left_45", "right_45")
CONSENT_KINDS = ("treatment", "photography", "marketing")
TECHNIQUES = ("manual", "gun", "roller")
ROLES = ("practitioner", "admin")
COURSE_STATUSES = ("planned", "active", "completed", "stopped")
#: Why a photo leaves a record; ``wrong_client`` also deletes it (see :func:`tracker.photos.remove_photo`).
REMOVAL_REASONS = {
    "wrong_client": "another client's photo",
    "unusable": "blurred, badly lit or otherwise unusable",
    "duplicate": "a duplicate of another photo",
    "withdrawn": "the client asked for it to be removed",
    "other": "another reason (see the note)",
}
TREATMENTS = ("skin rejuvenation", "hair loss", "cellulite/fat", "pigmentation")
AREAS = ("face", "neck", "decolletage", "hands", "scalp", "body")

#: The medical history checked before mesotherapy; each is a contraindication when present.
CONTRAINDICATIONS = {
    "pregnant_or_breastfeeding": "pregnancy or breastfeeding",
    "skin_infection_in_area": "active skin infection or cold sores in the area",
    "active_dermatosis_in_area": "active acne, eczema or psoriasis in the area",
    "anticoagulants_or_aspirin": "anticoagulants or aspirin",
    "isotretinoin_18_months": "isotretinoin in the last 18 months",
    "autoimmune_or_steroids": "autoimmune disease or steroids",
    "bleeding_disorder": "bleeding disorders",
    "keloid_tendency": "keloid tendency",
    "poorly_controlled_condition": "uncontrolled diabetes or another poorly controlled condition",
    "allergy_ingredient_or_anaesthetic": "allergy to an ingredient or to local anaesthetic",
    "permanent_filler_in_area": "permanent filler in the area",
    "under_minimum_age": "age under the clinic's minimum",
}


#: Every table's ids only grow (SQLite ``AUTOINCREMENT``; PostgreSQL sequences never go back): an id
#: once used, e.g. by a client since erased, never names another record, so a stale reference (an open
#: client-portal session, an old export) can never reach someone else's records.
NEVER_REUSE_IDS = {"sqlite_autoincrement": True}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    pass


class Clinic(Base):
    """One clinic of the group: its clients' records are seen only by its staff and the group's admins."""

    __tablename__ = "clinics"
    __table_args__ = NEVER_REUSE_IDS
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ClinicFloors(Base):
    """A clinic's own noise floors (:class:`analysis.Floors` as JSON), fitted on its own no-change photos with
    ``python -m analysis calibrate``; its analyses use them where they have a floor, the shipped ones elsewhere
    (:mod:`tracker.calibration`). One row per clinic: the audit log keeps who set which file when."""

    __tablename__ = "clinic_floors"
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id", ondelete="CASCADE"), primary_key=True)
    floors: Mapped[dict] = mapped_column(JSON)
    sha256: Mapped[str] = mapped_column(String(64))  # of the file as set, to tell which calibration is in use
    set_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    set_by: Mapped[str] = mapped_column(String(200))


#: Which staff work in which clinic (a practitioner sees the clients of these clinics only).
clinic_staff = Table(
    "clinic_staff", Base.metadata,
    Column("clinic_id", ForeignKey("clinics.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True),
)


def one_of(column: str, values, name: str, nullable: bool = False) -> CheckConstraint:
    """The schema's own check that ``column`` holds one of ``values`` (migration 0008): the database refuses
    a restored or hand-edited row the library would never write."""
    allowed = f"{column} IN ({', '.join(repr(v) for v in values)})"
    return CheckConstraint(f"{column} IS NULL OR {allowed}" if nullable else allowed, name=name)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (one_of("role", ROLES, "ck_users_role"), NEVER_REUSE_IDS)
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(300))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    clinics: Mapped[list[Clinic]] = relationship(secondary=clinic_staff, order_by="Clinic.name")


class SignInFailure(Base):
    """Failed sign-ins in a row for one account or client code, and until when it is locked.

    ``key`` is a SHA-256 of the username or client id, never the typed text;
    times are Unix seconds, the same in every process and database.
    """

    __tablename__ = "sign_in_failures"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_at: Mapped[float] = mapped_column(Float)
    locked_until: Mapped[float | None] = mapped_column(Float)


class Client(Base):
    __tablename__ = "clients"
    __table_args__ = NEVER_REUSE_IDS
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    contact: Mapped[str] = mapped_column(String(300), default="")
    fitzpatrick: Mapped[int | None] = mapped_column(Integer)
    notes: Mapped[str] = mapped_column(Text, default="")
    access_code_hash: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"), index=True)
    clinic: Mapped[Clinic] = relationship()

    screenings: Mapped[list[Screening]] = relationship(back_populates="client", cascade="all, delete-orphan",
                                                       order_by="Screening.screened_on")
    consents: Mapped[list[Consent]] = relationship(back_populates="client", cascade="all, delete-orphan")
    courses: Mapped[list[Course]] = relationship(back_populates="client", cascade="all, delete-orphan",
                                                 order_by="Course.id")


class Screening(Base):
    """The consultation's medical history. A True field is an open contraindication."""

    __tablename__ = "screenings"
    __table_args__ = NEVER_REUSE_IDS
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    screened_on: Mapped[date] = mapped_column(Date)
    screened_by: Mapped[str] = mapped_column(String(200))
    pregnant_or_breastfeeding: Mapped[bool] = mapped_column(Boolean, default=False)
    skin_infection_in_area: Mapped[bool] = mapped_column(Boolean, default=False)
    active_dermatosis_in_area: Mapped[bool] = mapped_column(Boolean, default=False)
    anticoagulants_or_aspirin: Mapped[bool] = mapped_column(Boolean, default=False)
    isotretinoin_18_months: Mapped[bool] = mapped_column(Boolean, default=False)
    autoimmune_or_steroids: Mapped[bool] = mapped_column(Boolean, default=False)
    bleeding_disorder: Mapped[bool] = mapped_column(Boolean, default=False)
    keloid_tendency: Mapped[bool] = mapped_column(Boolean, default=False)
    poorly_controlled_condition: Mapped[bool] = mapped_column(Boolean, default=False)
    allergy_ingredient_or_anaesthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    permanent_filler_in_area: Mapped[bool] = mapped_column(Boolean, default=False)
    under_minimum_age: Mapped[bool] = mapped_column(Boolean, default=False)
    patch_test_on: Mapped[date | None] = mapped_column(Date)
    patch_test_result: Mapped[str | None] = mapped_column(String(20))  # negative, positive
    notes: Mapped[str] = mapped_column(Text, default="")
    client: Mapped[Client] = relationship(back_populates="screenings")

    @property
    def open_contraindications(self) -> list[str]:
        found = [label for field, label in CONTRAINDICATIONS.items() if getattr(self, field)]
        if self.patch_test_result == "positive":
            found.append("positive patch test")
        return found


class Consent(Base):
    __tablename__ = "consents"
    __table_args__ = (one_of("kind", CONSENT_KINDS, "ck_consents_kind"), NEVER_REUSE_IDS)
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    given_on: Mapped[date] = mapped_column(Date)
    signatory: Mapped[str] = mapped_column(String(200))
    withdrawn_on: Mapped[date | None] = mapped_column(Date)
    client: Mapped[Client] = relationship(back_populates="consents")

    def current_on(self, day: date) -> bool:
        return self.given_on <= day and (self.withdrawn_on is None or day < self.withdrawn_on)


class Course(Base):
    __tablename__ = "courses"
    __table_args__ = (one_of("status", COURSE_STATUSES, "ck_courses_status"), NEVER_REUSE_IDS)
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    treatment: Mapped[str] = mapped_column(String(200))
    areas: Mapped[list] = mapped_column(JSON, default=list)
    planned_sessions: Mapped[int] = mapped_column(Integer)
    interval_days: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="active")
    started_on: Mapped[date] = mapped_column(Date)
    override_reason: Mapped[str | None] = mapped_column(Text)  # why it started despite contraindications
    override_by: Mapped[str | None] = mapped_column(String(200))
    #: Side in mm of the printed scale marker the practitioner uses in hair-loss and cellulite photos; None:
    #: none recorded, and those measures are at a nominal scale (see tracker.photos).
    marker_mm: Mapped[float | None] = mapped_column(Float)
    client: Mapped[Client] = relationship(back_populates="courses")
    sessions: Mapped[list[Session]] = relationship(back_populates="course", cascade="all, delete-orphan",
                                                   order_by="Session.number")


class Session(Base):
    __tablename__ = "sessions"
    __table_args__ = (UniqueConstraint("course_id", "number"), NEVER_REUSE_IDS)
    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    held_on: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=utcnow)
    practitioner: Mapped[str] = mapped_column(String(200))
    technique: Mapped[str] = mapped_column(String(20))
    areas: Mapped[list] = mapped_column(JSON, default=list)
    anaesthetic: Mapped[str] = mapped_column(String(200), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    immediate_reactions: Mapped[str] = mapped_column(Text, default="")
    aftercare: Mapped[str] = mapped_column(Text, default="")
    course: Mapped[Course] = relationship(back_populates="sessions")
    products: Mapped[list[ProductUse]] = relationship(back_populates="session", cascade="all, delete-orphan")
    hexsel: Mapped[HexselScore | None] = relationship(back_populates="session", cascade="all, delete-orphan")
    all_photos: Mapped[list[Photo]] = relationship(back_populates="session", cascade="all, delete-orphan",
                                                   order_by="Photo.id")
    #: The photos in the record: removed ones are left out (they stay in ``all_photos`` until erasure).
    photos: Mapped[list[Photo]] = relationship(
        primaryjoin="and_(Session.id == Photo.session_id, Photo.removed_at.is_(None))", order_by="Photo.id",
        viewonly=True)


class HexselItem(NamedTuple):
    label: str
    short: str  # a table's column
    scores: tuple[str, ...]  # what a score of 0, 1, 2, 3 means


#: The Hexsel Cellulite Severity Scale (Hexsel, Dal'Forno, Hexsel, JEADV 23(5):523-528, 2009): five items
#: scored 0-3 by a clinician from standard photos of the thighs and buttocks; the total is 0-15
#: (1-5 mild, 6-10 moderate, 11-15 severe).
HEXSEL_ITEMS = {
    "depressions_number": HexselItem("Number of evident depressions", "Depressions", (
        "none", "a small amount: 1 to 4", "a moderate amount: 5 to 9", "a large amount: 10 or more")),
    "depressions_depth": HexselItem("Depth of depressions", "Depth", (
        "no depressions", "superficial", "medium depth", "deep")),
    "morphology": HexselItem("Morphological appearance (raised lesions)", "Raised lesions", (
        "no raised areas", "orange-peel appearance", "cottage-cheese appearance", "mattress appearance")),
    "laxity": HexselItem("Laxity, flaccidity or sagging skin", "Laxity", (
        "absent", "slightly draped", "moderately draped", "severely draped")),
    "nurnberger_muller": HexselItem("Nürnberger-Müller grade", "Nürnberger-Müller", (
        "no alteration of the surface", "only on pinching or muscle contraction", "when standing, not lying",
        "both standing and lying")),
}


class HexselScore(Base):
    """A session's Hexsel Cellulite Severity Scale (:data:`HEXSEL_ITEMS`), scored by a clinician."""

    __tablename__ = "hexsel_scores"
    __table_args__ = (UniqueConstraint("session_id"), NEVER_REUSE_IDS)
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    depressions_number: Mapped[int] = mapped_column(Integer)
    depressions_depth: Mapped[int] = mapped_column(Integer)
    morphology: Mapped[int] = mapped_column(Integer)
    laxity: Mapped[int] = mapped_column(Integer)
    nurnberger_muller: Mapped[int] = mapped_column(Integer)
    scored_by: Mapped[str] = mapped_column(String(200))
    scored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    session: Mapped[Session] = relationship(back_populates="hexsel")

    @property
    def total(self) -> int:
        return sum(getattr(self, item) for item in HEXSEL_ITEMS)


class ProductUse(Base):
    __tablename__ = "product_uses"
    __table_args__ = NEVER_REUSE_IDS
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    product: Mapped[str] = mapped_column(String(200))
    batch: Mapped[str] = mapped_column(String(100))
    expiry: Mapped[date | None] = mapped_column(Date)
    volume_ml: Mapped[float | None]
    session: Mapped[Session] = relationship(back_populates="products")


class Photo(Base):
    """A photo's record; its original bytes are in the photo store under ``sha256``."""

    __tablename__ = "photos"
    __table_args__ = (UniqueConstraint("session_id", "sha256"),
                      one_of("removed_reason", REMOVAL_REASONS, "ck_photos_removed_reason", nullable=True),
                      NEVER_REUSE_IDS)
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    view: Mapped[str] = mapped_column(String(100))  # a VIEWS value, or a named body area
    original_name: Mapped[str] = mapped_column(String(300))
    format: Mapped[str] = mapped_column(String(20))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(Integer)
    captured_at: Mapped[datetime | None] = mapped_column(DateTime)
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    region: Mapped[list | None] = mapped_column(JSON)  # marked polygon for body areas, in this photo's pixels
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    removed_by: Mapped[str | None] = mapped_column(String(200))
    removed_reason: Mapped[str | None] = mapped_column(String(20))  # a REMOVAL_REASONS key
    session: Mapped[Session] = relationship(back_populates="all_photos")
    analyses: Mapped[list[PhotoAnalysis]] = relationship(back_populates="photo", cascade="all, delete-orphan",
                                                         order_by="PhotoAnalysis.id",
                                                         foreign_keys="PhotoAnalysis.photo_id")


class PhotoAnalysis(Base):
    """The `analysis` result for a photo (against its baseline), or the error that stopped it.

    One per photo and analysis version. A row with neither ``result`` nor
    ``error_code`` is a *claim*: a run is analysing the photo now (see
    :func:`tracker.photos.claim`).
    """

    __tablename__ = "photo_analyses"
    __table_args__ = (UniqueConstraint("photo_id", "analysis_version", name="uq_photo_analyses_photo_version"),
                      NEVER_REUSE_IDS)
    id: Mapped[int] = mapped_column(primary_key=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id", ondelete="CASCADE"), index=True)
    reference_photo_id: Mapped[int | None] = mapped_column(ForeignKey("photos.id", ondelete="SET NULL"))
    analysis_version: Mapped[str] = mapped_column(String(20))
    result: Mapped[dict | None] = mapped_column(JSON)
    error_code: Mapped[str | None] = mapped_column(String(40))
    error_message: Mapped[str | None] = mapped_column(Text)
    #: ``host:pid`` of the run that claimed it (a run on the same host takes over a dead run's claim at once).
    claimed_by: Mapped[str | None] = mapped_column(String(120))
    #: Set when a correction (baseline, move, removal) changed what this analysis compared with: re-run it.
    stale: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    photo: Mapped[Photo] = relationship(back_populates="analyses", foreign_keys=[photo_id])


class AuditEvent(Base):
    """Who did what to which record, and when. Holds ids and actions, never personal data."""

    __tablename__ = "audit_events"
    __table_args__ = NEVER_REUSE_IDS
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(20))  # create, change, view, export, delete, import, analyse
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[int | None] = mapped_column(Integer)
    client_id: Mapped[int | None] = mapped_column(Integer, index=True)
    clinic_id: Mapped[int | None] = mapped_column(Integer, index=True)  # the clinic of the record acted on
    detail: Mapped[dict | None] = mapped_column(JSON)


class PendingDeletion(Base):
    """An erased client's original, to be deleted from the photo store.

    Written in the erasure's transaction and removed once the file is gone, so
    that a crash between the two leaves a record the next run finishes
    (:func:`tracker.clientdata.finish_erasures`). It holds the file's hash only.
    """

    __tablename__ = "pending_deletions"
    __table_args__ = NEVER_REUSE_IDS
    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    queued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ViewBaseline(Base):
    """The photo chosen as a course's baseline of a view (without one, the earliest photo of the view)."""

    __tablename__ = "view_baselines"
    __table_args__ = (UniqueConstraint("course_id", "view"), NEVER_REUSE_IDS)
    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    view: Mapped[str] = mapped_column(String(100))
    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id", ondelete="CASCADE"))
    chosen_by: Mapped[str] = mapped_column(String(200))
    chosen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RecordVersion(Base):
    """A record's field values before a correction: who changed it, when and why.

    Holds personal data (the previous values), so it belongs to the client and
    is deleted with them (the foreign key cascades on erasure).
    """

    __tablename__ = "record_versions"
    __table_args__ = NEVER_REUSE_IDS
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    entity: Mapped[str] = mapped_column(String(40))  # client, screening, consent, course, session, photo, baseline
    entity_id: Mapped[int] = mapped_column(Integer)
    previous: Mapped[dict] = mapped_column(JSON)  # the changed fields' values before the change
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SetupToken(Base):
    """A one-time setup token that an app process printed on the server's console, as its SHA-256.

    Kept in the database, not in one process's memory, so that every app
    instance on the database accepts a token any of them printed; all are
    deleted when the first admin account is created.
    """

    __tablename__ = "setup_tokens"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
