"""Presentation contexts medview proposes and accepts (PS3.8 7.1.1.13, PS3.7 D.3.3.4).

Storage contexts list the uncompressed transfer syntaxes first and then the compressed ones
medview can decode (pydicom + pylibjpeg), so a PACS may send JPEG 2000, JPEG-LS, JPEG
lossless/baseline or RLE as stored instead of decompressing (issue 9: "transfer syntaxes
negotiated to include compressed ones"). An association carries at most 128 contexts, so
C-GET proposes the storage classes a radiology workstation meets rather than all of them.
"""

from __future__ import annotations

from pydicom.uid import (
    JPEG2000,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)
from pynetdicom import AllStoragePresentationContexts, build_context, build_role
from pynetdicom.presentation import PresentationContext
from pynetdicom.sop_class import (
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
    Verification,
)

UNCOMPRESSED = [ExplicitVRLittleEndian, ImplicitVRLittleEndian]
COMPRESSED = [
    JPEG2000Lossless,
    JPEG2000,
    JPEGLSLossless,
    JPEGLSNearLossless,
    JPEGLosslessSV1,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    RLELossless,
    DeflatedExplicitVRLittleEndian,
]
TRANSFER_SYNTAXES = UNCOMPRESSED + COMPRESSED

#: Storage SOP classes proposed for C-GET (PS3.4 B.5): images, SR, SEG, parametric maps, PDF.
GET_STORAGE_CLASSES = [
    "1.2.840.10008.5.1.4.1.1.2",  # CT Image
    "1.2.840.10008.5.1.4.1.1.2.1",  # Enhanced CT Image
    "1.2.840.10008.5.1.4.1.1.4",  # MR Image
    "1.2.840.10008.5.1.4.1.1.4.1",  # Enhanced MR Image
    "1.2.840.10008.5.1.4.1.1.128",  # PET Image
    "1.2.840.10008.5.1.4.1.1.130",  # Enhanced PET Image
    "1.2.840.10008.5.1.4.1.1.20",  # NM Image
    "1.2.840.10008.5.1.4.1.1.1",  # CR Image
    "1.2.840.10008.5.1.4.1.1.1.1",  # Digital X-Ray (presentation)
    "1.2.840.10008.5.1.4.1.1.1.1.1",  # Digital X-Ray (processing)
    "1.2.840.10008.5.1.4.1.1.1.2",  # Digital Mammography (presentation)
    "1.2.840.10008.5.1.4.1.1.12.1",  # X-Ray Angiographic
    "1.2.840.10008.5.1.4.1.1.6.1",  # Ultrasound
    "1.2.840.10008.5.1.4.1.1.3.1",  # Ultrasound Multi-frame
    "1.2.840.10008.5.1.4.1.1.7",  # Secondary Capture
    "1.2.840.10008.5.1.4.1.1.7.2",  # Multi-frame Grayscale Byte SC
    "1.2.840.10008.5.1.4.1.1.7.3",  # Multi-frame Grayscale Word SC
    "1.2.840.10008.5.1.4.1.1.7.4",  # Multi-frame True Color SC
    "1.2.840.10008.5.1.4.1.1.66.4",  # Segmentation
    "1.2.840.10008.5.1.4.1.1.30",  # Parametric Map
    "1.2.840.10008.5.1.4.1.1.88.11",  # Basic Text SR
    "1.2.840.10008.5.1.4.1.1.88.22",  # Enhanced SR
    "1.2.840.10008.5.1.4.1.1.88.33",  # Comprehensive SR
    "1.2.840.10008.5.1.4.1.1.88.34",  # Comprehensive 3D SR
    "1.2.840.10008.5.1.4.1.1.104.1",  # Encapsulated PDF
    "1.2.840.10008.5.1.4.1.1.11.1",  # Grayscale Softcopy Presentation State
    "1.2.840.10008.5.1.4.1.1.481.3",  # RT Structure Set
]


def verification_context() -> list[PresentationContext]:
    return [build_context(Verification)]


def find_contexts() -> list[PresentationContext]:
    return [build_context(StudyRootQueryRetrieveInformationModelFind)]


def move_contexts() -> list[PresentationContext]:
    return [build_context(StudyRootQueryRetrieveInformationModelMove)]


#: Image classes whose pixel data a PACS often stores compressed: for these C-GET proposes
#: one context per compressed syntax (below), so the peer can send each file as stored.
COMPRESSIBLE_CLASSES = GET_STORAGE_CLASSES[:15]
#: The compressed syntaxes proposed one per context (JPEG-LS near-lossless, JPEG 12-bit and
#: Deflate are left out to stay under the 128 contexts of PS3.8 9.3.2.2).
PER_CONTEXT_SYNTAXES = [
    JPEG2000Lossless, JPEG2000, JPEGLSLossless, JPEGLosslessSV1, JPEGBaseline8Bit, RLELossless,
]  # fmt: skip


def get_contexts() -> tuple[list[PresentationContext], list]:
    """Contexts and SCP/SCU role selection items for C-GET (PS3.7 D.3.3.4).

    In a C-GET the SCU receives C-STORE requests on the same association, so it proposes the
    storage classes with the SCP role for itself. A context carries one accepted transfer
    syntax (PS3.8 9.3.3.2): proposing all syntaxes in one context lets the peer pick
    Explicit VR Little Endian and decompress everything, so compressed syntaxes get a
    context each for the image classes.
    """
    contexts = [build_context(StudyRootQueryRetrieveInformationModelGet)]
    for uid in GET_STORAGE_CLASSES:
        if uid in COMPRESSIBLE_CLASSES:
            contexts.append(build_context(uid, UNCOMPRESSED))
            contexts += [build_context(uid, syntax) for syntax in PER_CONTEXT_SYNTAXES]
        else:
            contexts.append(build_context(uid, [*UNCOMPRESSED, DeflatedExplicitVRLittleEndian]))
    roles = [build_role(uid, scp_role=True) for uid in GET_STORAGE_CLASSES]
    return contexts, roles


def storage_scp_contexts() -> list[PresentationContext]:
    """Every storage SOP class with every transfer syntax, for medview's Storage SCP."""
    return [
        build_context(cx.abstract_syntax, TRANSFER_SYNTAXES)
        for cx in AllStoragePresentationContexts
    ]


def store_contexts(pairs: set[tuple[str, str]]) -> list[PresentationContext]:
    """Contexts for sending files: each file's own transfer syntax, then uncompressed.

    Parameters
    ----------
    pairs
        (SOP Class UID, Transfer Syntax UID) of the files to send.
    """
    by_class: dict[str, list[str]] = {}
    for sop_class, syntax in sorted(pairs):
        syntaxes = by_class.setdefault(sop_class, [])
        for uid in (syntax, *UNCOMPRESSED):
            if uid not in syntaxes:
                syntaxes.append(uid)
    # One context per (class, syntax) lets the peer accept compressed and uncompressed
    # separately; pynetdicom then picks the context matching each file (PS3.7 9.3.1.1).
    contexts = []
    for sop_class, syntaxes in by_class.items():
        for uid in syntaxes:
            contexts.append(build_context(sop_class, uid))
    if len(contexts) > 128:
        raise ValueError("too many SOP class / transfer syntax combinations in one send")
    return contexts
