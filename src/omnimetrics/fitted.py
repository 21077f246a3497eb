"""The scikit-learn contract shared by every fitted model (attribution, CLV, experiments, mix).

`__init__` only stores parameters; `fit(...)` learns and returns self; learned state is named with a
trailing underscore (`transition_matrix_`); asking for results before `fit` raises
`NotFittedError` ("call fit first").

>>> class MeanOrder(Fitted):
...     def __init__(self, scale: float = 1.0) -> None:
...         self.scale = scale
...     def fit(self, values: list[float]) -> "MeanOrder":
...         self.mean_ = self.scale * sum(values) / len(values)
...         return self
...     def predict(self) -> float:
...         self.check_fitted()
...         return self.mean_
>>> MeanOrder(scale=2)
MeanOrder(scale=2)
>>> MeanOrder().predict()
Traceback (most recent call last):
...
omnimetrics.errors.NotFittedError: MeanOrder is not fitted: call fit first.
>>> MeanOrder().fit([1.0, 2.0, 6.0]).predict()
3.0
"""

from __future__ import annotations

from omnimetrics.errors import NotFittedError


class Fitted:
    """Base of fitted models: parameters in `__init__`, learned state in `name_` attributes."""

    @property
    def is_fitted(self) -> bool:
        """True once `fit` has set learned state (attributes ending in `_`)."""
        return any(name.endswith("_") and not name.startswith("__") for name in vars(self))

    def check_fitted(self) -> None:
        """Raise NotFittedError unless `fit` has run: call it first in every result method."""
        if not self.is_fitted:
            name = type(self).__name__
            raise NotFittedError(f"{name} is not fitted: call fit first.")

    def get_params(self) -> dict[str, object]:
        """The parameters given to `__init__` (as stored on the model)."""
        import inspect

        signature = inspect.signature(type(self).__init__)
        names = [p for p in signature.parameters if p != "self"]
        return {name: getattr(self, name) for name in names if hasattr(self, name)}

    def __repr__(self) -> str:
        params = ", ".join(f"{name}={value!r}" for name, value in self.get_params().items())
        return f"{type(self).__name__}({params})"
