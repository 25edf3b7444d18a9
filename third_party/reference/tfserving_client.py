"""Queries a TensorFlow Serving gRPC endpoint with TF Serving's own Python
client (tensorflow-serving-api): PredictionService.Predict,
GetModelMetadata and ModelService.GetModelStatus.

usage: tfserving_client.py HOST:PORT MODEL X.npz [VERSION]

Sends X.npz's "x" (float32) as the serving_default input "x" (to VERSION,
or the newest when 0 or left out) and prints JSON: the answer's model
version, the output's shape and its float32 values as uint32 bits, the
metadata's signature input/output names, dtypes and shapes, and the
status's versions and states.
"""
import json
import sys

import grpc
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import (get_model_metadata_pb2,
                                     get_model_status_pb2, model_service_pb2_grpc,
                                     predict_pb2, prediction_service_pb2_grpc)


def main():
    target, model, path = sys.argv[1:4]
    version = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    x = np.load(path)["x"].astype(np.float32)
    channel = grpc.insecure_channel(target)
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)

    req = predict_pb2.PredictRequest()
    req.model_spec.name = model
    req.model_spec.signature_name = "serving_default"
    if version:
        req.model_spec.version.value = version
    req.inputs["x"].CopyFrom(tf.make_tensor_proto(x))
    res = stub.Predict(req, timeout=60)
    y = tf.make_ndarray(res.outputs["logits"]).astype(np.float32)

    mreq = get_model_metadata_pb2.GetModelMetadataRequest()
    mreq.model_spec.name = model
    mreq.metadata_field.append("signature_def")
    meta = stub.GetModelMetadata(mreq, timeout=60)
    sigs = get_model_metadata_pb2.SignatureDefMap()
    meta.metadata["signature_def"].Unpack(sigs)
    sig = sigs.signature_def["serving_default"]

    def info(m):
        return {k: {"dtype": tf.dtypes.as_dtype(v.dtype).name,
                    "shape": [d.size for d in v.tensor_shape.dim]} for k, v in m.items()}

    sreq = get_model_status_pb2.GetModelStatusRequest()
    sreq.model_spec.name = model
    status = model_service_pb2_grpc.ModelServiceStub(channel).GetModelStatus(sreq, timeout=60)

    print(json.dumps({
        "version": res.model_spec.version.value,
        "shape": list(y.shape),
        "bits": y.view(np.uint32).ravel().tolist(),
        "inputs": info(sig.inputs),
        "outputs": info(sig.outputs),
        "method_name": sig.method_name,
        "status": [{"version": s.version,
                    "state": get_model_status_pb2.ModelVersionStatus.State.Name(s.state),
                    "error_code": s.status.error_code} for s in status.model_version_status],
    }))


if __name__ == "__main__":
    main()
