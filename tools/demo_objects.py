"""Measurement objects of the demo trial: TID 1500 SR and SEG (highdicom), RTSTRUCT (pydicom)."""

from __future__ import annotations

import math

import highdicom as hd
import numpy as np
from demo_dicom import (
    CONTENT_TIME,
    MANUFACTURER,
    Geometry,
    axis_endpoints,
    da,
    geometry,
    semi_axes,
    study_header,
    uid,
)
from demo_spec import LesionSpec, SubjectSpec
from pydicom.dataset import Dataset
from pydicom.sr.coding import Code
from pydicom.uid import CTImageStorage, RTStructureSetStorage

ORGANS: dict[str, Code] = {
    "liver": Code("10200004", "SCT", "Liver"),
    "lung": Code("39607008", "SCT", "Lung"),
    "kidney": Code("64033007", "SCT", "Kidney"),
    "bone": Code("272673000", "SCT", "Bone"),
    "lymph node": Code("59441001", "SCT", "Lymph node"),
    "adrenal gland": Code("23451007", "SCT", "Adrenal gland"),
    "pleura": Code("3120008", "SCT", "Pleura"),
    "peritoneum": Code("15425007", "SCT", "Peritoneum"),
}
LONG_AXIS = Code("103339001", "SCT", "Long Axis")
SHORT_AXIS = Code("103340004", "SCT", "Short Axis")
MM = Code("mm", "UCUM", "millimeter")
LESION = Code("52988006", "SCT", "Lesion")
BASELINE_CATEGORY = Code("112016", "DCM", "Baseline Category")
CATEGORY = {  # CID 6145
    "target": Code("112074", "DCM", "Target Lesion at Baseline"),
    "non-target": Code("112075", "DCM", "Non-Target Lesion at Baseline"),
}
TIME_POINT_TYPE = {  # CID 6146
    True: Code("C1442488", "UMLS", "Baseline"),
    False: Code("126074", "DCM", "Posttreatment"),
}
CT_PROCEDURE = Code("25045-6", "LN", "CT unspecified body region")
MORPH_ABNORMAL = Code("49755003", "SCT", "Morphologically Altered Structure")
NEOPLASM = Code("108369006", "SCT", "Neoplasm")
SERIES_NUMBER = {"sr": 100, "seg": 200, "rtstruct": 300}


def tracking_uid(subj: SubjectSpec, les: LesionSpec) -> str:
    """The lesion's Tracking Unique Identifier, the same in every study of the subject."""
    return uid(subj.subject_id, les.lesion_id, "tracking")


def _visible(subj: SubjectSpec, i: int) -> list[LesionSpec]:
    return [les for les in subj.lesions if les.sizes[i] is not None]


def _trial_attributes(ds: Dataset, subj: SubjectSpec, i: int) -> None:
    for elem in study_header(subj, i):
        if elem.keyword.startswith("ClinicalTrial") or elem.keyword == "PatientIdentityRemoved":
            ds[elem.tag] = elem


def _group(subj: SubjectSpec, i: int, les: LesionSpec, slices: list[Dataset],
           geo: Geometry) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    """TID 1501 group: Long/Short Axis NUMs, each inferred from a two-point SCOORD on the central slice."""
    size = les.sizes[i]
    assert size is not None
    src = hd.sr.SourceImageForRegion(CTImageStorage, slices[les.slice_index].SOPInstanceUID)
    ends = axis_endpoints(les, i, geo)
    measurements = []
    for axis, concept, value in (("long", LONG_AXIS, size[0]), ("short", SHORT_AXIS, size[1])):
        points = np.array([geo.image_coords(x, y) for x, y in ends[axis]], dtype=np.float32)
        scoord = hd.sr.CoordinatesForMeasurement(hd.sr.GraphicTypeValues.POLYLINE, points, src)
        measurements.append(hd.sr.Measurement(name=concept, value=float(value), unit=MM,
                                              referenced_coordinates=[scoord]))
    evaluations = None
    if i == 0 and les.role in CATEGORY:
        evaluations = [hd.sr.QualitativeEvaluation(BASELINE_CATEGORY, CATEGORY[les.role])]
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=tracking_uid(subj, les), identifier=les.lesion_id),
        time_point_context=hd.sr.TimePointContext(
            time_point=subj.label(i), time_point_type=TIME_POINT_TYPE[i == 0],
            protocol_time_point_identifier=subj.label(i)),
        finding_type=LESION,
        finding_sites=[hd.sr.FindingSite(ORGANS[les.organ])],
        measurements=measurements,
        qualitative_evaluations=evaluations,
    )


def sr_document(subj: SubjectSpec, i: int, slices: list[Dataset]) -> Dataset:
    """Comprehensive 3D SR (TID 1500) with one measurement group per lesion seen at assessment i."""
    geo = geometry(subj)
    observer = hd.sr.ObservationContext()  # no observer: one reader, every row's reader is empty
    report = hd.sr.MeasurementReport(
        observation_context=observer, procedure_reported=CT_PROCEDURE,
        imaging_measurements=[_group(subj, i, les, slices, geo) for les in _visible(subj, i)])
    sr = hd.sr.Comprehensive3DSR(
        evidence=slices, content=report, series_instance_uid=uid(subj.subject_id, i, "sr series"),
        series_number=SERIES_NUMBER["sr"], sop_instance_uid=uid(subj.subject_id, i, "sr"), instance_number=1,
        manufacturer=MANUFACTURER, is_complete=True, is_final=True, institution_name="Demo site",
        series_description="Lesion measurements (TID 1500)", content_date=da(subj.date(i)),
        content_time=CONTENT_TIME, series_date=da(subj.date(i)), series_time=CONTENT_TIME)
    _trial_attributes(sr, subj, i)
    return sr


def seg_document(subj: SubjectSpec, i: int, slices: list[Dataset], masks: dict[str, np.ndarray]) -> Dataset:
    """Binary SEG with one segment per lesion seen at assessment i (label and tracking id = lesion id)."""
    lesions = _visible(subj, i)
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=n, segment_label=les.lesion_id, segmented_property_category=MORPH_ABNORMAL,
            segmented_property_type=NEOPLASM, algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
            tracking_uid=tracking_uid(subj, les), tracking_id=les.lesion_id,
            anatomic_regions=[ORGANS[les.organ]])
        for n, les in enumerate(lesions, start=1)
    ]
    pixels = np.stack([masks[les.lesion_id] for les in lesions], axis=-1)
    seg = hd.seg.Segmentation(
        source_images=slices, pixel_array=pixels, segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions, series_instance_uid=uid(subj.subject_id, i, "seg series"),
        series_number=SERIES_NUMBER["seg"], sop_instance_uid=uid(subj.subject_id, i, "seg"),
        instance_number=1,
        manufacturer=MANUFACTURER, manufacturer_model_name="make_demo.py", software_versions="1",
        device_serial_number="0001", content_label="LESIONS", content_description="Lesion segmentations",
        series_description="Lesion segmentations", content_date=da(subj.date(i)), content_time=CONTENT_TIME,
        series_date=da(subj.date(i)), series_time=CONTENT_TIME)
    _trial_attributes(seg, subj, i)
    return seg


def _ds(value: float) -> str:
    """DS text with three decimals (never ``-0.000``)."""
    text = f"{value:.3f}"
    return "0.000" if text == "-0.000" else text


def _contours(les: LesionSpec, i: int, slices: list[Dataset], geo: Geometry, n_points: int = 64
              ) -> list[Dataset]:
    """Closed planar contours of the ellipsoid's section on every slice it crosses (exact outline)."""
    ax = semi_axes(les, i)
    assert ax is not None
    a, b, c = ax
    th = math.radians(les.angle_deg)
    out: list[Dataset] = []
    for k, sl in enumerate(slices):
        z = geo.z(k)
        dz = z - geo.z(les.slice_index)
        if abs(dz) >= c:
            continue
        f = math.sqrt(1 - (dz / c) ** 2)
        data: list[str] = []
        for j in range(n_points):
            t = 2 * math.pi * j / n_points
            u, v = a * f * math.cos(t), b * f * math.sin(t)
            x = les.x_mm + u * math.cos(th) - v * math.sin(th)
            y = les.y_mm + u * math.sin(th) + v * math.cos(th)
            data += [_ds(x), _ds(y), _ds(z)]
        item = Dataset()
        ref = Dataset()
        ref.ReferencedSOPClassUID = sl.SOPClassUID
        ref.ReferencedSOPInstanceUID = sl.SOPInstanceUID
        item.ContourImageSequence = [ref]
        item.ContourGeometricType = "CLOSED_PLANAR"
        item.NumberOfContourPoints = n_points
        item.ContourNumber = len(out) + 1
        item.ContourData = data
        out.append(item)
    return out


COLOURS = ([255, 64, 64], [64, 160, 255], [255, 200, 0], [64, 200, 64], [200, 64, 255])


def rtstruct_document(subj: SubjectSpec, i: int, slices: list[Dataset]) -> Dataset:
    """RT Structure Set with one ROI per lesion seen at assessment i (ROIName = lesion id)."""
    geo = geometry(subj)
    ds = study_header(subj, i)
    ds.SOPClassUID = RTStructureSetStorage
    ds.SOPInstanceUID = uid(subj.subject_id, i, "rtstruct")
    ds.InstanceCreationDate = ds.StudyDate
    ds.InstanceCreationTime = CONTENT_TIME
    ds.Modality = "RTSTRUCT"
    ds.SeriesInstanceUID = uid(subj.subject_id, i, "rtstruct series")
    ds.SeriesNumber = SERIES_NUMBER["rtstruct"]
    ds.SeriesDate, ds.SeriesTime = ds.StudyDate, CONTENT_TIME
    ds.SeriesDescription = "Lesion contours"
    ds.Manufacturer = MANUFACTURER
    ds.ManufacturerModelName = "make_demo.py"
    ds.SoftwareVersions = "1"
    ds.InstanceNumber = 1
    ds.StructureSetLabel = "LESIONS"
    ds.StructureSetName = f"Lesions {subj.label(i)}"
    ds.StructureSetDate, ds.StructureSetTime = ds.StudyDate, CONTENT_TIME
    frame_uid = slices[0].FrameOfReferenceUID
    images = []
    for sl in slices:
        ref = Dataset()
        ref.ReferencedSOPClassUID = sl.SOPClassUID
        ref.ReferencedSOPInstanceUID = sl.SOPInstanceUID
        images.append(ref)
    series = Dataset()
    series.SeriesInstanceUID = slices[0].SeriesInstanceUID
    series.ContourImageSequence = images
    study = Dataset()
    study.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.1"  # Detached Study Management (retired, customary)
    study.ReferencedSOPInstanceUID = slices[0].StudyInstanceUID
    study.RTReferencedSeriesSequence = [series]
    frame = Dataset()
    frame.FrameOfReferenceUID = frame_uid
    frame.RTReferencedStudySequence = [study]
    ds.ReferencedFrameOfReferenceSequence = [frame]
    rois, contours, observations = [], [], []
    for n, les in enumerate(_visible(subj, i), start=1):
        roi = Dataset()
        roi.ROINumber = n
        roi.ReferencedFrameOfReferenceUID = frame_uid
        roi.ROIName = les.lesion_id
        roi.ROIGenerationAlgorithm = "MANUAL"
        rois.append(roi)
        cont = Dataset()
        cont.ROIDisplayColor = COLOURS[(n - 1) % len(COLOURS)]
        cont.ContourSequence = _contours(les, i, slices, geo)
        cont.ReferencedROINumber = n
        contours.append(cont)
        obs = Dataset()
        obs.ObservationNumber = n
        obs.ReferencedROINumber = n
        obs.ROIObservationLabel = les.lesion_id
        obs.RTROIInterpretedType = ""
        obs.ROIInterpreter = ""
        observations.append(obs)
    ds.StructureSetROISequence = rois
    ds.ROIContourSequence = contours
    ds.RTROIObservationsSequence = observations
    return ds
