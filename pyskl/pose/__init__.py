"""Pose estimation from video: backends (multi-person BlazePose from mediapipe's models, the ONNX slot),
tracking, and ``pyskl extract``.

Heavy dependencies (mediapipe, ai-edge-litert, onnxruntime, cv2) are imported only inside the functions
that use them.
"""

from .backend import BACKENDS, Detection, PoseBackend, build_pose_backend, keypoint_box
from .tracker import PoseTracker, TrackStore, box_iou, keypoint_similarity

__all__ = [
    "BACKENDS",
    "Detection",
    "PoseBackend",
    "PoseTracker",
    "TrackStore",
    "box_iou",
    "build_pose_backend",
    "keypoint_box",
    "keypoint_similarity",
]
