"""Small statistical models fitted to the library's own data and its labelled cases: an
L2-regularised logistic regression (suggested prerequisites, topic resolution) and its scorer,
saved to and loaded from JSON."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Scorer:
    """A logistic model over standardised features (``mean``, ``scale``)."""

    coef: np.ndarray
    intercept: float
    mean: np.ndarray
    scale: np.ndarray
    trained: bool = True

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """Each feature's share of the log-odds, row by row."""
        return ((np.asarray(X, dtype=np.float64) - self.mean) / self.scale) * self.coef

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The probability of the positive class for each row (classes weighted equally in training)."""
        z = self.contributions(X).sum(axis=1) + self.intercept
        return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))

    def to_json(self, names: list[str]) -> dict:
        return {"features": list(names), "coef": [round(float(c), 6) for c in self.coef],
                "intercept": round(float(self.intercept), 6), "mean": [round(float(m), 6) for m in self.mean],
                "scale": [round(float(s), 6) for s in self.scale]}

    @classmethod
    def from_json(cls, data: dict, names: list[str]) -> "Scorer":
        if list(data["features"]) != list(names):
            raise ValueError(f"the model was fitted on features {data['features']}, not {names}")
        return cls(np.array(data["coef"], dtype=np.float64), float(data["intercept"]),
                   np.array(data["mean"], dtype=np.float64), np.array(data["scale"], dtype=np.float64))


def fit_logistic(X: np.ndarray, y: np.ndarray, weight: np.ndarray | None = None, l2: float = 1.0,
                 iterations: int = 50) -> Scorer:
    """L2-regularised logistic regression by Newton's method on standardised features.

    Parameters
    ----------
    X : array of shape (m, k)
    y : array of 0/1 labels
    weight : per-row weights (default: classes weighted to count equally)
    l2 : ridge penalty on the (standardised) coefficients, not on the intercept

    Examples
    --------
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> model = fit_logistic(X, np.array([0, 0, 1, 1]), l2=0.1)
    >>> (model.predict(X) > 0.5).astype(int).tolist()
    [0, 0, 1, 1]
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if weight is None:
        pos = max(y.sum(), 1.0)
        neg = max(len(y) - y.sum(), 1.0)
        weight = np.where(y > 0, 0.5 / pos, 0.5 / neg) * len(y)
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    scale[scale < 1e-9] = 1.0  # a constant feature (no text, say) gets no say
    Z = np.column_stack([np.ones(len(X)), (X - mean) / scale])
    beta = np.zeros(Z.shape[1])
    penalty = np.full(Z.shape[1], l2)
    penalty[0] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(Z @ beta, -30, 30)))
        grad = Z.T @ (weight * (p - y)) + penalty * beta
        hess = (Z * (weight * p * (1 - p))[:, None]).T @ Z + np.diag(penalty + 1e-9)
        delta = np.linalg.solve(hess, grad)
        beta -= delta
        if np.abs(delta).max() < 1e-7:
            break
    return Scorer(beta[1:], float(beta[0]), mean, scale)


@dataclass
class ChoiceModel:
    """A conditional logit over groups of alternatives plus a "none of them" alternative: the
    probability that alternative i of a group is the one meant is exp(u_i) / (exp(u_none) +
    sum_j exp(u_j)), with u = coef . (x - mean) / scale. Suited to "which topic did the learner
    mean, if any": probabilities compete within a query, unlike independent logistic scores."""

    coef: np.ndarray
    none: float
    mean: np.ndarray
    scale: np.ndarray

    def probabilities(self, X: np.ndarray) -> tuple[np.ndarray, float]:
        """(probability of each row, probability of none) for one group."""
        X = np.asarray(X, dtype=np.float64).reshape(-1, len(self.coef))
        u = ((X - self.mean) / self.scale) @ self.coef
        top = max(u.max(initial=-np.inf), self.none)
        e = np.exp(u - top)
        n = np.exp(self.none - top)
        total = e.sum() + n
        return e / total, float(n / total)

    def to_json(self, names: list[str]) -> dict:
        return {"features": list(names), "coef": [round(float(c), 6) for c in self.coef],
                "none": round(float(self.none), 6), "mean": [round(float(m), 6) for m in self.mean],
                "scale": [round(float(s), 6) for s in self.scale]}

    @classmethod
    def from_json(cls, data: dict, names: list[str]) -> "ChoiceModel":
        if list(data["features"]) != list(names):
            raise ValueError(f"the model was fitted on features {data['features']}, not {names}")
        return cls(np.array(data["coef"], dtype=np.float64), float(data["none"]),
                   np.array(data["mean"], dtype=np.float64), np.array(data["scale"], dtype=np.float64))


def fit_choice(groups: list[np.ndarray], chosen: list[set[int]], l2: float = 1.0, iterations: int = 3000,
               rate: float = 0.05) -> ChoiceModel:
    """Fit a ChoiceModel: ``groups[g]`` holds the feature rows of group g's alternatives and
    ``chosen[g]`` the indices of the right ones (empty: none of them is right). Maximises the
    log-likelihood of picking a right alternative (or none), with an L2 penalty, by Adam.

    Examples
    --------
    >>> groups = [np.array([[1.0], [0.0]]), np.array([[0.0], [1.0]]), np.array([[0.1], [0.2]])]
    >>> model = fit_choice(groups, [{0}, {1}, set()], l2=0.01)
    >>> [int(np.argmax(model.probabilities(g)[0])) for g in groups[:2]], model.probabilities(groups[2])[1] > 0.5
    ([0, 1], True)
    """
    stacked = np.vstack([g for g in groups if len(g)])
    mean, scale = stacked.mean(axis=0), stacked.std(axis=0)
    scale[scale < 1e-9] = 1.0
    Z = [(np.asarray(g, dtype=np.float64) - mean) / scale for g in groups]
    k = stacked.shape[1]
    w = np.zeros(k + 1)  # coefficients, then the none utility
    m, v = np.zeros_like(w), np.zeros_like(w)
    for step in range(1, iterations + 1):
        grad = np.zeros_like(w)
        for z, right in zip(Z, chosen):
            u = z @ w[:k] if len(z) else np.zeros(0)
            top = max(u.max(initial=-np.inf), w[k])
            e, n = np.exp(u - top), np.exp(w[k] - top)
            p, p_none = e / (e.sum() + n), n / (e.sum() + n)
            target = np.zeros(len(z))
            if right:  # the right ones share the credit in proportion to their probability
                mass = p[list(right)].sum()
                for i in right:
                    target[i] = p[i] / mass if mass > 0 else 1.0 / len(right)
                target_none = 0.0
            else:
                target_none = 1.0
            grad[:k] += z.T @ (target - p) if len(z) else 0.0
            grad[k] += target_none - p_none
        grad[:k] -= l2 * w[:k]
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad ** 2
        w += rate * (m / (1 - 0.9 ** step)) / (np.sqrt(v / (1 - 0.999 ** step)) + 1e-8)
    return ChoiceModel(w[:k], float(w[k]), mean, scale)
