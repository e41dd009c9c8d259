"""Build the ONNX graph for the TF-IDF weighting + logistic regression.

Written by hand with `onnx.helper` rather than through skl2onnx's
TfidfVectorizer converter: the tokenizer stays in Python (see features.py),
so the graph only needs Gather/Mul/Softmax on sparse input, and the bytes are
deterministic (fixed names, no producer timestamps). Training only: the
serve path never imports `onnx`.
"""

from __future__ import annotations

import numpy as np


def build_tfidf_lr(idf: np.ndarray, coef: np.ndarray, intercept: np.ndarray) -> bytes:
    """Graph: probs = softmax(l2norm(tf * idf[idx]) @ coef.T[idx] + intercept)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weights = np.ascontiguousarray(coef.T.astype(np.float32))  # [V, classes]
    inits = [
        numpy_helper.from_array(idf.astype(np.float32), "idf"),
        numpy_helper.from_array(weights, "weights"),
        numpy_helper.from_array(intercept.astype(np.float32).reshape(1, -1), "intercept"),
        numpy_helper.from_array(np.array([0], dtype=np.int64), "axis0"),
        numpy_helper.from_array(np.array(1e-12, dtype=np.float32), "eps"),
    ]
    nodes = [
        helper.make_node("Gather", ["idf", "idx"], ["idf_g"], axis=0),
        helper.make_node("Mul", ["tf", "idf_g"], ["tfidf"]),
        helper.make_node("Mul", ["tfidf", "tfidf"], ["sq"]),
        helper.make_node("ReduceSum", ["sq", "axis0"], ["sumsq"], keepdims=1),
        helper.make_node("Sqrt", ["sumsq"], ["norm"]),
        helper.make_node("Max", ["norm", "eps"], ["norm_safe"]),
        helper.make_node("Div", ["tfidf", "norm_safe"], ["unit"]),
        helper.make_node("Unsqueeze", ["unit", "axis0"], ["row"]),
        helper.make_node("Gather", ["weights", "idx"], ["w_g"], axis=0),
        helper.make_node("MatMul", ["row", "w_g"], ["dot"]),
        helper.make_node("Add", ["dot", "intercept"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probs"], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "tfidf_lr",
        [
            helper.make_tensor_value_info("idx", TensorProto.INT64, ["n"]),
            helper.make_tensor_value_info("tf", TensorProto.FLOAT, ["n"]),
        ],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [1, weights.shape[1]])],
        inits,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="llm-router"
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString(deterministic=True)
