"""Synthetic CT series for the demo trial: fixed UIDs, geometry, ellipsoid lesions, deterministic headers."""

from __future__ import annotations

import hashlib
import math
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from demo_spec import LesionSpec, SubjectSpec
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filewriter import dcmwrite
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian

ENTROPY_ROOT = "irrecist demo trial v1"
ROWS = COLS = 64
Z_TOP_MM = 40.0
CONTENT_TIME = "120000"
MANUFACTURER = "irrecist demo generator"
TRIAL = {"ClinicalTrialSponsorName": "irrecist demo", "ClinicalTrialProtocolID": "IRRECIST-DEMO",
         "ClinicalTrialProtocolName": "Synthetic demo trial", "ClinicalTrialSiteID": "01",
         "ClinicalTrialSiteName": "Demo site"}


def uid(*parts: object) -> str:
    """A UID fixed by the given parts: ``2.25.`` + a name-based (SHA-1, version 5) UUID, as ISO/IEC 9834-8.

    (``pydicom.uid.generate_uid(prefix=None)`` ignores its entropy sources, hence this.)
    """
    return f"2.25.{uuid.uuid5(uuid.NAMESPACE_OID, '/'.join([ENTROPY_ROOT, *map(str, parts)])).int}"


def seed(*parts: object) -> int:
    """A fixed RNG seed derived from the given parts."""
    return int.from_bytes(hashlib.sha256("/".join(map(str, parts)).encode()).digest()[:8], "little")


def da(d: object) -> str:
    """DICOM DA from a ``datetime.date``."""
    return str(d).replace("-", "")


@dataclass(frozen=True)
class Geometry:
    """Axial grid of one series: 64 x 64 pixels, square pixels, slices going inferior from Z_TOP_MM."""

    spacing: float
    n_slices: int
    thickness: float

    @property
    def x0(self) -> float:
        """x (and y) of the first pixel's centre, so that the image is centred on the origin."""
        return -(COLS - 1) / 2 * self.spacing

    def z(self, k: int) -> float:
        return Z_TOP_MM - k * self.thickness

    def image_coords(self, x: float, y: float) -> tuple[float, float]:
        """Patient (x, y) -> SR image coordinates (column, row); (0, 0) is the top left pixel's corner."""
        return (x - self.x0) / self.spacing + 0.5, (y - self.x0) / self.spacing + 0.5

    def centres(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Voxel-centre coordinates (z, y, x), each shaped (slices, rows, cols)."""
        k, r, c = np.meshgrid(np.arange(self.n_slices), np.arange(ROWS), np.arange(COLS), indexing="ij")
        return Z_TOP_MM - k * self.thickness, self.x0 + r * self.spacing, self.x0 + c * self.spacing


def geometry(subj: SubjectSpec) -> Geometry:
    return Geometry(subj.pixel_spacing_mm, subj.n_slices, subj.slice_thickness_mm)


def semi_axes(les: LesionSpec, i: int) -> tuple[float, float, float] | None:
    """Ellipsoid semi-axes (long, short, cranio-caudal) in mm at assessment i, or None when not seen."""
    s = les.sizes[i]
    if s is None:
        return None
    return s[0] / 2, s[1] / 2, 0.4 * s[1]


def lesion_mask(les: LesionSpec, i: int, geo: Geometry) -> np.ndarray:
    """Voxels whose centre lies inside the lesion's ellipsoid at assessment i."""
    z, y, x = geo.centres()
    ax = semi_axes(les, i)
    if ax is None:
        return np.zeros(z.shape, dtype=bool)
    a, b, c = ax
    th = math.radians(les.angle_deg)
    dx, dy, dz = x - les.x_mm, y - les.y_mm, z - geo.z(les.slice_index)
    u = dx * math.cos(th) + dy * math.sin(th)
    v = -dx * math.sin(th) + dy * math.cos(th)
    return np.asarray((u / a) ** 2 + (v / b) ** 2 + (dz / c) ** 2 <= 1.0)


def axis_endpoints(les: LesionSpec, i: int, geo: Geometry) -> dict[str, tuple[tuple[float, float], ...]]:
    """Patient (x, y) endpoints of the true long and short axes on the lesion's central slice."""
    ax = semi_axes(les, i)
    assert ax is not None
    a, b, _ = ax
    th = math.radians(les.angle_deg)
    cx, cy = les.x_mm, les.y_mm
    ux, uy = math.cos(th), math.sin(th)
    return {
        "long": ((cx - a * ux, cy - a * uy), (cx + a * ux, cy + a * uy)),
        "short": ((cx + b * uy, cy - b * ux), (cx - b * uy, cy + b * ux)),
    }


def body_mask(geo: Geometry) -> np.ndarray:
    z, y, x = geo.centres()
    half = COLS / 2 * geo.spacing
    return np.asarray((x / (0.97 * half)) ** 2 + (y / (0.92 * half)) ** 2 <= 1.0)


LESION_HU = {"lung": 150, "liver": 110, "kidney": -10, "bone": 450, "lymph node": 80}  # body is 40 HU


def volume(subj: SubjectSpec, i: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Stored pixel values (uint16, HU + 1024) of assessment i, and each visible lesion's mask."""
    geo = geometry(subj)
    hu = np.where(body_mask(geo), 40, -1000).astype(np.int32)
    masks: dict[str, np.ndarray] = {}
    for les in subj.lesions:
        m = lesion_mask(les, i, geo)
        if m.any():
            masks[les.lesion_id] = m
            hu[m] = LESION_HU.get(les.organ, 90)
    rng = np.random.default_rng(seed(subj.subject_id, i, "noise"))
    hu = hu + rng.integers(-12, 13, size=hu.shape)
    return np.clip(hu + 1024, 0, 4095).astype(np.uint16), masks


def check_layout(subj: SubjectSpec) -> None:
    """Every lesion stays inside the body, 2 px from the image edge, and never touches another lesion."""
    geo = geometry(subj)
    body = body_mask(geo)
    inner = np.zeros_like(body)
    inner[:, 2:-2, 2:-2] = True
    for i in range(subj.n_timepoints):
        union = np.zeros_like(body)
        for les in subj.lesions:
            m = lesion_mask(les, i, geo)
            if les.sizes[i] is None:
                continue
            if not m[les.slice_index].any() or not (m <= (body & inner)).all():
                raise ValueError(f"{subj.subject_id} {les.lesion_id} at {i}: outside the body or image")
            grown = m | np.roll(m, 1, 1) | np.roll(m, -1, 1) | np.roll(m, 1, 2) | np.roll(m, -1, 2)
            if (grown & union).any():
                raise ValueError(f"{subj.subject_id} {les.lesion_id} at {i}: touches another lesion")
            union |= m


def study_header(subj: SubjectSpec, i: int) -> Dataset:
    """Patient, study and clinical-trial attributes shared by every object of assessment i."""
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.PatientName = subj.patient_name
    ds.PatientID = subj.subject_id
    ds.PatientBirthDate = subj.birth_date
    ds.PatientSex = subj.sex
    ds.PatientIdentityRemoved = "YES"
    ds.StudyInstanceUID = uid(subj.subject_id, i, "study")
    ds.StudyDate = da(subj.date(i))
    ds.StudyTime = "090000"
    ds.StudyID = f"{i + 1}"
    ds.AccessionNumber = f"{subj.subject_id.replace('-', '')}{i + 1:02d}"
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = f"CT chest abdomen pelvis, {subj.label(i)}"
    for k, v in TRIAL.items():
        setattr(ds, k, v)
    ds.ClinicalTrialSubjectID = subj.subject_id
    ds.ClinicalTrialTimePointID = subj.label(i)
    ds.ClinicalTrialTimePointDescription = f"Tumour assessment, {subj.label(i)}"
    return ds


def ct_series(subj: SubjectSpec, i: int) -> tuple[list[Dataset], dict[str, np.ndarray]]:
    """The CT slices of assessment i (top to bottom) and the lesions' masks."""
    geo = geometry(subj)
    pixels, masks = volume(subj, i)
    series_uid = uid(subj.subject_id, i, "ct series")
    slices = []
    for k in range(geo.n_slices):
        ds = study_header(subj, i)
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = uid(subj.subject_id, i, "ct", k)
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.InstanceCreationDate = ds.StudyDate
        ds.InstanceCreationTime = "091500"
        ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = ds.StudyDate
        ds.SeriesTime = ds.AcquisitionTime = ds.ContentTime = "091000"
        ds.Modality = "CT"
        ds.Manufacturer = MANUFACTURER
        ds.ManufacturerModelName = "synthetic CT"
        ds.SoftwareVersions = "1"
        ds.DeviceSerialNumber = "0001"
        ds.InstitutionName = "Demo site"
        ds.SeriesInstanceUID = series_uid
        ds.SeriesNumber = 2
        ds.SeriesDescription = "Axial 5 mm" if geo.thickness == 5 else f"Axial {geo.thickness:g} mm"
        ds.BodyPartExamined = "CHEST"
        ds.PatientPosition = "FFS"
        ds.KVP = "120"
        ds.SliceThickness = f"{geo.thickness:g}"
        ds.SpacingBetweenSlices = f"{geo.thickness:g}"
        ds.FrameOfReferenceUID = uid(subj.subject_id, i, "frame of reference")
        ds.PositionReferenceIndicator = ""
        ds.InstanceNumber = k + 1
        ds.AcquisitionNumber = 1
        ds.ImagePositionPatient = [f"{geo.x0:g}", f"{geo.x0:g}", f"{geo.z(k):g}"]
        ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
        ds.SliceLocation = f"{geo.z(k):g}"
        ds.PixelSpacing = [f"{geo.spacing:g}", f"{geo.spacing:g}"]
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.Rows, ds.Columns = ROWS, COLS
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = "-1024", "1", "HU"
        ds.WindowCenter, ds.WindowWidth = "40", "400"
        ds.PixelData = pixels[k].tobytes()
        slices.append(ds)
    return slices, masks


def file_meta(ds: Dataset) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return meta


FIXED_TIMES = ("InstanceCreationTime", "ContentTime", "SeriesTime", "StructureSetTime")


def freeze(ds: Dataset, date: str, owner: str) -> None:
    """Replace what libraries stamp at run time (creation date/time, contribution time, dimension UIDs)."""
    for elem in list(ds.iterall()):
        kw = elem.keyword
        if kw == "InstanceCreationDate":
            elem.value = date
        elif kw == "InstanceCreationTime":
            elem.value = CONTENT_TIME
        elif kw == "ContributionDateTime":
            elem.value = date + CONTENT_TIME
        elif kw == "DimensionOrganizationUID":
            elem.value = uid(owner, "dimension organization")


def write(ds: Dataset, path: Path) -> None:
    """Write a DICOM file (Part 10, explicit VR little endian)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not getattr(ds, "file_meta", None):
        ds.file_meta = file_meta(ds)
    dcmwrite(path, ds, enforce_file_format=True)
