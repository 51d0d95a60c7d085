"""Visualisation: skeleton drawing, video/GIF/PNG writing, 3D projection, heatmaps, plots.

OpenCV, PyAV, Pillow and matplotlib are imported inside the functions that need them.
"""

from .heatmap import heatmap_frames
from .plots import confusion_matrix, plot_confusion_matrix, plot_training_curves, read_log
from .projection import project_3d, rotation_matrix
from .skeleton import blank_canvas, draw_skeleton, draw_text_block, track_color
from .video import VideoWriter, read_video_frames, write_gif, write_png

__all__ = [
    "VideoWriter",
    "blank_canvas",
    "confusion_matrix",
    "draw_skeleton",
    "draw_text_block",
    "heatmap_frames",
    "plot_confusion_matrix",
    "plot_training_curves",
    "project_3d",
    "read_log",
    "read_video_frames",
    "rotation_matrix",
    "track_color",
    "write_gif",
    "write_png",
]
