"""Faces found by MTCNN in the source photos, with what the model predicts for each crop.

Reference:
    Zhang et al. 2016, "Joint Face Detection and Alignment using Multi-task Cascaded
    Convolutional Networks", https://arxiv.org/abs/1604.02878
"""

from __future__ import annotations

from pydantic import Field

from reportgen import figures
from reportgen.analyses._examples import face_numbers
from reportgen.analyses.base import Analysis, AnalysisContext, AnalysisResult, Figure, Msg, Params
from reportgen.analyses.registry import register
from reportgen.i18n import plural_msg


class FacePanelParams(Params):
    max_photos: int = Field(4, ge=1, le=20)


@register
class FacePanel(Analysis):
    """Boxes, landmarks and the predicted class of every detected face."""

    name = "face_panel"
    title = Msg("Face detection (MTCNN)")
    Params = FacePanelParams

    def run(self, ctx: AnalysisContext, params: FacePanelParams) -> AnalysisResult:
        sources = ctx.data.sources[: params.max_photos]
        if not sources:
            return AnalysisResult(notes=[Msg("This dataset has no source photos with detected faces "
                                             "(use kind = \"images\" with face_crop = true).")])
        result = AnalysisResult(metrics={"photos": []})
        image_of = {}  # (source, face) → test image index
        for index, (source, face) in enumerate(zip(ctx.data.source_index, ctx.data.face_index)):
            image_of[(int(source), int(face))] = index
        for s, source in enumerate(sources):
            labels, faces, numbers = [], [], face_numbers(source.faces)
            for f, face in enumerate(source.faces):
                index = image_of.get((s, f))
                predicted = "" if index is None else \
                    f"{ctx.classes[ctx.y_pred[index]]} {ctx.test_probabilities[index, ctx.y_pred[index]]:.2f}"
                labels.append(predicted)
                faces.append({"number": numbers[f], "box": [int(v) for v in face.box],
                              "confidence": float(face.confidence), "predicted": predicted})
            path = figures.face_boxes(source.image, source.faces, labels, ctx.figure_path(f"faces_{s}"),
                                      numbers=numbers)
            result.metrics["photos"].append({"name": source.name,
                                             "faces": sorted(faces, key=lambda face: face["number"])})
            result.figures.append(Figure(path, plural_msg(
                "Photo {name}: {count} face detected by MTCNN (box and five landmarks), numbered in "
                "reading order (the crops in the other figures are titled with the same numbers) and "
                "labelled with the model's most probable class for its crop.",
                "Photo {name}: {count} faces detected by MTCNN (box and five landmarks), numbered in "
                "reading order (the crops in the other figures are titled with the same numbers) and "
                "labelled with the model's most probable class for its crop.",
                {"name": source.name, "count": len(source.faces)})))
        return result
