"""The Bayesian engine of the mix model: the same model sampled by NUTS through pymc-marketing
(`MixModel(..., engine="pymc")`, the [pymc] extra), its posterior draws handed to the tables in
place of the default engine's bootstrap fits. Choices, priors and measured figures: docs/mmm.md,
"The pymc engine".

The base (intercept, trend, Fourier terms, standardised controls) is the default engine's own
matrix, given to pymc-marketing as control columns; the channels go through pymc-marketing's
adstock and saturation components; sales and spend are divided by their means (pymc-marketing's
"mean" scaling), so the posterior parameters are in the units of docs/mmm.md. Every draw's
channel columns are then recomputed with `omnimetrics.mmm.transforms` (the tables evaluate them at
other spend levels), which the tests check against pymc-marketing's own contributions.

pymc-marketing is imported only when this engine fits, so the package works without it.
"""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from omnimetrics.errors import ConfigError, EngineError
from omnimetrics.mmm.transforms import SATURATIONS

if TYPE_CHECKING:
    from omnimetrics.mmm.model import Draw, MixModel

OPTIONS: Mapping[str, object] = {
    "chains": 4,  # 4 chains: the split R-hat needs several; pymc runs `cores` at a time
    "draws": 500,  # per chain: 2,000 draws in all, an effective sample of several hundred
    "tune": 500,  # warm-up steps per chain, discarded
    "target_accept": 0.9,  # above pymc's 0.8: saturation curves give a curved posterior
    "cores": None,  # chains sampled in parallel; None: pymc's default (half the CPUs, at most 4)
    "nuts_sampler": "nutpie",  # 4x PyMC's own ("pymc") on the benchmark; numpyro, blackjax
    "max_lag": 12,  # adstock weeks after the week of spend (pymc-marketing's l_max = 13)
    "priors": None,  # {name: pymc_extras.prior.Prior}, over PRIORS' defaults (docs/mmm.md)
    "progressbar": False,
}
"""The engine's settings (`engine_options`), with their defaults."""

INSTALL_HINT = (
    "The 'pymc' engine of the mix model needs pymc-marketing: pip install 'omnimetrics[pymc]' "
    "(or use the default engine, engine='ridge')."
)

ADSTOCK_COMPONENTS = {"geometric": "GeometricAdstock", "delayed": "DelayedAdstock"}
SATURATION_COMPONENTS = {"hill": "HillSaturation", "logistic": "LogisticSaturation"}
# our parameter name -> pymc-marketing's, per transform
ADSTOCK_PARAMETERS = {
    "geometric": {"decay": "alpha"},
    "delayed": {"retention": "alpha", "delay": "theta"},
}
SATURATION_PARAMETERS = {
    "hill": {"half_saturation": "kappa", "shape": "slope"},
    "logistic": {"steepness": "lam"},
}
FREE_VARIABLES = ("intercept_contribution", "gamma_control", "y_sigma")


ROI_SCALE = 3.0
"""The scale of the half-normal prior a channel's beta implies on its ROI at half saturation."""


def default_priors(spend_over_sales: pd.Series) -> dict[str, Any]:
    """The priors the engine uses unless `engine_options["priors"]` overrides them, on sales and
    spend divided by their means (reasons: docs/mmm.md). `spend_over_sales`: each channel's mean
    spend over mean sales, for the channels' coefficients.

    A channel at half saturation sells beta / 2 mean weekly sales a week for its mean spend, so
    ROI = beta * mean sales / (2 * mean spend): beta ~ HalfNormal(2 * ROI_SCALE * mean spend /
    mean sales) puts about a HalfNormal(ROI_SCALE) on its ROI, in proportion to its spend.
    """
    import xarray as xr
    from pymc_extras.prior import Prior

    beta_scale = xr.DataArray(
        2 * ROI_SCALE * spend_over_sales.to_numpy(dtype=float),
        dims="channel",
        coords={"channel": list(spend_over_sales.index)},
    )
    return {
        "intercept": Prior("Normal", mu=0, sigma=2),
        "gamma_control": Prior("Normal", mu=0, sigma=1, dims="control"),
        "likelihood": Prior("Normal", sigma=Prior("HalfNormal", sigma=1)),
        "adstock_alpha": Prior("Beta", alpha=1, beta=3, dims="channel"),
        "adstock_theta": Prior("HalfNormal", sigma=1, dims="channel"),
        "saturation_beta": Prior("HalfNormal", sigma=beta_scale, dims="channel"),
        "saturation_kappa": Prior("LogNormal", mu=0, sigma=1, dims="channel"),
        "saturation_slope": Prior("LogNormal", mu=0, sigma=0.5, dims="channel"),
        "saturation_lam": Prior("Gamma", alpha=3, beta=3, dims="channel"),
    }


def check(model: MixModel, settings: Mapping[str, object]) -> None:
    """Refuse, before any sampling, what this engine does not map."""
    if model.adstock not in ADSTOCK_COMPONENTS:
        raise ConfigError(
            f"The pymc engine has no {model.adstock!r} adstock: pymc-marketing's Weibull adstock "
            "rescales its weights otherwise than the default engine's. Choose from "
            f"{sorted(ADSTOCK_COMPONENTS)}, or engine='ridge'."
        )
    if model.saturation not in SATURATION_COMPONENTS:
        raise ConfigError(
            f"The pymc engine has no {model.saturation!r} saturation. "
            f"Choose from {sorted(SATURATION_COMPONENTS)}."
        )
    if model.interval_method != "percentile":
        raise ConfigError(
            f"interval_method={model.interval_method!r} is a bootstrap interval; the pymc "
            "engine's intervals are posterior quantiles: use interval_method='percentile'."
        )
    if model.calibration is not None and len(model.calibration):
        raise ConfigError(
            "The pymc engine does not take calibration= yet (experiment lifts): use "
            "engine='ridge' for a calibrated model."
        )
    for name in ("chains", "draws", "tune", "max_lag"):
        value = settings[name]
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(
                f"The engine option {name!r} must be an integer >= 1. Got {value!r} instead."
            )
    target_accept = settings["target_accept"]
    if not isinstance(target_accept, float) or not 0 < target_accept < 1:
        raise ConfigError(
            f"The engine option 'target_accept' must be a float in (0, 1). Got {target_accept!r}."
        )


def _import() -> Any:
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS")
            import pymc_marketing.mmm as mmm
            from pymc_marketing.mmm.multidimensional import MMM
            from pymc_marketing.mmm.scaling import Scaling, VariableScaling
    except ImportError as error:
        raise EngineError(f"{INSTALL_HINT} ({error})") from error
    return mmm, MMM, Scaling, VariableScaling


def fit(model: MixModel, table: pd.DataFrame) -> None:
    """Sample the posterior (and, with holdout_weeks, a second one without the last weeks)."""
    settings = model.engine_settings()
    check(model, settings)
    n, holdout = len(table), model.holdout_weeks
    if holdout > 0:
        early, _ = _sample(model, table, np.arange(n - holdout), settings, seed=model.seed + 1)
        predicted = np.mean([model._fitted(draw) for draw in early], axis=0)
        model.holdout_predicted_ = predicted[n - holdout :]
    else:
        model.holdout_predicted_ = np.array([])
    draws, result = _sample(model, table, np.arange(n), settings, seed=model.seed)
    model.draws_ = draws
    model.fit_ = _point(model, result)
    model.inference_data_ = result["idata"]
    model.engine_diagnostics_ = _convergence(result["idata"], settings)


def _sample(
    model: MixModel,
    table: pd.DataFrame,
    weeks: np.ndarray,
    settings: Mapping[str, Any],
    seed: int,
) -> tuple[list[Draw], dict[str, Any]]:
    """One pymc-marketing fit on `weeks`; its draws as Draws over every week of the series."""
    components, mmm_class, scaling, variable_scaling = _import()
    sampler = settings["nuts_sampler"]
    if sampler != "pymc" and importlib.util.find_spec(str(sampler)) is None:
        raise EngineError(
            f"The sampler {sampler!r} is not installed: pip install 'omnimetrics[pymc]' (which "
            "brings nutpie), or engine_options={'nuts_sampler': 'pymc'} (PyMC's own, slower)."
        )
    base_names = [f"base_{i}" for i in range(1, model._base_.shape[1])]
    frame = pd.DataFrame({"date": table[model.date_column].to_numpy()[weeks]})
    for channel in model.channels:
        frame[channel] = model.spend_[weeks, model.channels.index(channel)]
    for i, name in enumerate(base_names, start=1):
        frame[name] = model._base_[weeks, i]
    target = pd.Series(model.sales_[weeks], name=model.target)

    spend_over_sales = frame[list(model.channels)].mean() / target.mean()
    priors = {**default_priors(spend_over_sales), **dict(settings["priors"] or {})}
    adstock_class = getattr(components, ADSTOCK_COMPONENTS[model.adstock])
    saturation_class = getattr(components, SATURATION_COMPONENTS[model.saturation])
    adstock_priors = {
        theirs: priors[f"adstock_{theirs}"] for theirs in ADSTOCK_PARAMETERS[model.adstock].values()
    }
    saturation_names = [*SATURATION_PARAMETERS[model.saturation].values(), "beta"]
    saturation_priors = {theirs: priors[f"saturation_{theirs}"] for theirs in saturation_names}
    mean = variable_scaling(method="mean", dims=())
    mmm = mmm_class(
        date_column="date",
        channel_columns=list(model.channels),
        target_column=model.target,
        adstock=adstock_class(
            l_max=int(settings["max_lag"]) + 1, normalize=True, priors=adstock_priors
        ),
        saturation=saturation_class(priors=saturation_priors),
        control_columns=base_names or None,
        scaling=scaling(target=mean, channel=mean),
        model_config={name: priors[name] for name in ("intercept", "gamma_control", "likelihood")},
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS")
        idata = mmm.fit(
            frame,
            target,
            chains=settings["chains"],
            draws=settings["draws"],
            tune=settings["tune"],
            target_accept=settings["target_accept"],
            cores=settings["cores"],
            nuts_sampler=settings["nuts_sampler"],
            progressbar=settings["progressbar"],
            random_seed=seed,
        )
    posterior = idata.posterior.stack(sample=("chain", "draw"))
    constant = idata.constant_data
    # some samplers (nutpie) store the constant data with extra dimensions: keep one value
    target_scale = float(np.asarray(constant["target_scale"]).ravel()[0])
    channel_scale = (
        constant["channel_scale"]
        .sel(channel=list(model.channels))
        .transpose("channel", ...)
        .to_numpy()
        .reshape(len(model.channels), -1)[:, 0]
    )
    parameters = _parameters(model, posterior, channel_scale)
    factor = target_scale / model.sales_scale_
    intercept = posterior["intercept_contribution"].to_numpy()[None, :]
    gamma = (
        posterior["gamma_control"].sel(control=base_names).transpose("control", "sample")
        if base_names
        else np.zeros((0, intercept.shape[1]))
    )
    base_coef = np.vstack([intercept, np.asarray(gamma)]).T * factor
    beta = posterior["saturation_beta"].sel(channel=list(model.channels)).transpose("sample", ...)
    beta = beta.to_numpy() * factor
    draws = _draws(model, base_coef, beta, parameters, int(settings["max_lag"]))
    result = {
        "idata": idata,
        "base_coef": base_coef,
        "beta": beta,
        "parameters": parameters,
        "mmm": mmm,
        "max_lag": int(settings["max_lag"]),
    }
    return draws, result


def _parameters(
    model: MixModel, posterior: Any, channel_scale: np.ndarray
) -> dict[str, np.ndarray]:
    """Each transformation parameter per draw and channel (samples, channels), in our units:
    spend / its mean over every week (pymc-marketing scaled by the mean over the fitted weeks)."""
    ratio = channel_scale / model.spend_scale_  # their unit of spend in ours
    out = {}
    for ours, theirs in {
        **ADSTOCK_PARAMETERS[model.adstock],
        **SATURATION_PARAMETERS[model.saturation],
    }.items():
        name = ("adstock_" if ours in ADSTOCK_PARAMETERS[model.adstock] else "saturation_") + theirs
        values = posterior[name].sel(channel=list(model.channels)).transpose("sample", ...)
        values = values.to_numpy().astype(float)
        if ours == "half_saturation":
            values = values * ratio
        elif ours == "steepness":
            values = values / ratio
        out[ours] = values
    return out


def _weights(adstock: str, parameters: Mapping[str, np.ndarray], max_lag: int) -> np.ndarray:
    """Normalised adstock weights (samples, channels, lags 0..max_lag), pymc-marketing's forms."""
    lags = np.arange(max_lag + 1, dtype=float)
    if adstock == "geometric":
        weights = parameters["decay"][..., None] ** lags
    else:  # delayed (Jin et al. 2017)
        weights = parameters["retention"][..., None] ** (
            (lags - parameters["delay"][..., None]) ** 2
        )
    return weights / weights.sum(axis=-1, keepdims=True)


def _draws(
    model: MixModel,
    base_coef: np.ndarray,
    beta: np.ndarray,
    parameters: Mapping[str, np.ndarray],
    max_lag: int,
) -> list[Draw]:
    """Draws over every week of the series: adstock by the posterior's weights, saturation by the
    default engine's functions (the same curves as pymc-marketing's)."""
    from omnimetrics.mmm.model import Draw

    spend = model.spend_ / model.spend_scale_  # (periods, channels)
    weights = _weights(model.adstock, parameters, max_lag)  # (samples, channels, lags)
    n = len(spend)
    lagged = np.zeros((max_lag + 1, n, spend.shape[1]))
    for lag in range(min(max_lag + 1, n)):  # a dozen lags, not a loop over rows
        lagged[lag, lag:] = spend[: n - lag]
    adstocked = np.einsum("scl,ltc->sct", weights, lagged)  # (samples, channels, periods)
    saturation = SATURATIONS[model.saturation]
    saturation_names = list(SATURATION_PARAMETERS[model.saturation])
    adstock_names = list(ADSTOCK_PARAMETERS[model.adstock])
    draws = []
    for s in range(len(beta)):  # one Draw per posterior draw
        columns = np.ascontiguousarray(adstocked[s])
        media = saturation.function(
            columns.T, **{name: parameters[name][s] for name in saturation_names}
        )
        draws.append(
            Draw(
                base_coef=base_coef[s],
                beta=beta[s],
                adstocked=tuple(columns),
                media=media,
                adstock_params=tuple(
                    {name: float(parameters[name][s, j]) for name in adstock_names}
                    for j in range(len(model.channels))
                ),
                saturation_params=tuple(
                    {name: float(parameters[name][s, j]) for name in saturation_names}
                    for j in range(len(model.channels))
                ),
            )
        )
    return draws


def _point(model: MixModel, result: Mapping[str, Any]) -> Draw:
    """The Draw at the posterior means of the parameters (the summary's beta and parameters)."""
    means = {name: values.mean(axis=0)[None, :] for name, values in result["parameters"].items()}
    return _draws(
        model,
        result["base_coef"].mean(axis=0)[None, :],
        result["beta"].mean(axis=0)[None, :],
        means,
        result["max_lag"],
    )[0]


def _convergence(idata: Any, settings: Mapping[str, Any]) -> list[tuple[str, float, str]]:
    """R-hat, effective sample sizes and divergences over the sampled parameters."""
    import arviz as az

    names = [
        name
        for name in idata.posterior.data_vars
        if name.startswith(("adstock_", "saturation_")) or name in FREE_VARIABLES
    ]
    rhat = az.rhat(idata, var_names=names)
    bulk = az.ess(idata, var_names=names, method="bulk")
    tail = az.ess(idata, var_names=names, method="tail")

    def largest(dataset: Any) -> float:
        return max(float(np.nanmax(dataset[name].to_numpy())) for name in names)

    def smallest(dataset: Any) -> float:
        return min(float(np.nanmin(dataset[name].to_numpy())) for name in names)

    divergences = int(idata.sample_stats["diverging"].sum())
    total = int(settings["chains"]) * int(settings["draws"])
    return [
        (
            "r_hat_max",
            largest(rhat),
            f"largest split R-hat over the sampled parameters ({settings['chains']} chains); "
            "above 1.01: the chains disagree, sample longer (draws, tune)",
        ),
        (
            "ess_bulk_min",
            smallest(bulk),
            f"smallest bulk effective sample size of {total} draws; below 400: intervals are "
            "rough, sample more",
        ),
        (
            "ess_tail_min",
            smallest(tail),
            "smallest tail effective sample size (the 5% and 95% quantiles' precision)",
        ),
        (
            "divergences",
            float(divergences),
            f"divergent transitions after warm-up, of {total}; above 0: the posterior may be "
            "biased where the sampler could not go: raise target_accept",
        ),
    ]
