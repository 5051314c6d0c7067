from setuptools import find_packages, setup

setup(
    name="mtdnn_tf",
    version="0.1.0",
    description="MT-DNN (Liu et al., ACL 2019): multi-task BERT for NLU in Keras 3 / TensorFlow",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["mtdnn_tf", "mtdnn_tf.*"]),
    # The built-in task definitions are package data: a wheel works outside the checkout.
    package_data={"mtdnn_tf.tasks": ["builtin/*.yaml"]},
    entry_points={
        "console_scripts": [
            "mtdnn-train = mtdnn_tf.train:console_main",
            "mtdnn-predict = mtdnn_tf.predict:console_main",
            "mtdnn-export = mtdnn_tf.export:console_main",
            "mtdnn-study = mtdnn_tf.study:console_main",
        ]
    },
    python_requires=">=3.10",
    install_requires=[
        "tensorflow==2.21.*",
        "keras>=3.15",
        "keras-hub==0.32.*",
        "tensorflow-text==2.21.*",
        "tensorflow-datasets",
        "tensorboard",
        "absl-py",
        "safetensors",
        "scikit-learn",
        "seqeval",
        "scipy",
        "pyyaml",
        "matplotlib",
        "ai-edge-litert",
    ],
    # tensorflow-serving-api: its PredictRequest protos check the request format in tests;
    # pytest-xdist: the suite runs on every core (most of its time is single-threaded tracing).
    # onnx: --format=onnx (tf2onnx converts, ONNX Runtime serves); the tests check it too.
    extras_require={"onnx": ["tf2onnx", "onnxruntime"],
                    "test": ["pytest", "pytest-xdist", "tensorflow-serving-api==2.21.*", "tf2onnx", "onnxruntime"]},
)
