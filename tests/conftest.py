import os

import keras
import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

if keras.backend.backend() == "torch":
    import torch

    # On a GPU PyTorch lets cuDNN use TensorFloat-32 by default (about 1e-4
    # off float32), which no 1e-5 comparison survives; the tests compare
    # float32 arithmetic. (JAX's equivalent: JAX_DEFAULT_MATMUL_PRECISION=
    # highest.)
    torch.backends.cudnn.allow_tf32 = False


@pytest.fixture(autouse=True)
def _seeded():
    keras.utils.set_random_seed(1234)
    yield
    keras.config.set_dtype_policy("float32")


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


def pytest_report_header(config):
    return f"keras {keras.__version__}, backend {keras.backend.backend()}"
