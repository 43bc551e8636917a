"""Device-side runtime: sources, a TFLite engine, per-task decoding, pipeline, renderers and sinks.

This package never imports TensorFlow. It depends on numpy, OpenCV and one TFLite interpreter
(ai-edge-litert, else tflite-runtime; see edge.runtime).
"""

__version__ = "0.1.0"
