"""Which solver "auto" picks, and why: the reason is recorded on the fitted estimator."""

from __future__ import annotations

__all__ = ["NEWTON_MAX_PARAMS", "choose_solver", "should_whiten"]

# Above this many parameters a dense Hessian (p^2 doubles, n p^2 flops a build) costs more than the
# L-BFGS iterations it saves.
NEWTON_MAX_PARAMS = 1500
# A multinomial Hessian costs (K d)^2 n flops to build; past this size whitened L-BFGS is cheaper.
NEWTON_MAX_MULTINOMIAL_PARAMS = 200
# Below this a Hessian costs microseconds whatever the shape, and Newton lands on the optimum exactly.
SMALL_PARAMS = 100
# Whitening L-BFGS costs one d x d second-moment matrix (n d^2 flops) and its Cholesky factor (d^3 / 3).
WHITEN_MAX_FEATURES = 2000
# Coordinate descent works on the Gram matrix of the model: p^2 doubles.
CD_MAX_PARAMS = 8000


def choose_solver(
    *, n_rows: int, n_params: int, sparse: bool, l1: bool, n_classes: int, unpenalised: bool = False
) -> tuple[str, str]:
    if l1:
        if n_params > CD_MAX_PARAMS:
            return "cd", f"L1/elastic-net penalty; {n_params} parameters is large for the Gram-form CD"
        return "cd", "L1/elastic-net penalty: proximal Newton with coordinate descent"
    if n_classes > 2 and n_params > NEWTON_MAX_MULTINOMIAL_PARAMS:
        return "lbfgs", (
            f"multinomial with {n_params} parameters > {NEWTON_MAX_MULTINOMIAL_PARAMS}: a (K d)^2 Hessian costs "
            "more than whitened L-BFGS"
        )
    if n_params > NEWTON_MAX_PARAMS:
        return "lbfgs", f"{n_params} parameters > {NEWTON_MAX_PARAMS}: a dense Hessian would cost more than it saves"
    if n_rows < n_params and unpenalised:
        return "lbfgs", f"more parameters ({n_params}) than rows ({n_rows}) and no penalty: the Hessian is singular"
    if n_rows < 2 * n_params and n_params > SMALL_PARAMS:
        # A Hessian costs n p^2 flops and p^3 / 3 to factor; with n < 2p that is already more than the
        # 2 n p-flop L-BFGS evaluations it would save (measured on 1k x 5k: 8 Hessians 0.5 s, L-BFGS 0.1 s).
        return "lbfgs", f"{n_rows} rows < 2 x {n_params} parameters: L-BFGS passes cost less than Hessians"
    kind = "multinomial" if n_classes > 2 else "binary"
    layout = "sparse" if sparse else "dense"
    return "newton", f"{kind}, {layout}, {n_params} parameters (a small Hessian), smooth penalty"


def should_whiten(*, n_rows: int, n_features: int, sparse: bool) -> bool:
    """Whiten L-BFGS when it is cheap next to the iterations it saves: sparse designs diagonally (one
    pass), dense ones by the full second-moment factor while d is moderate and n well above d."""
    return sparse or (n_features <= WHITEN_MAX_FEATURES and n_rows >= 2 * (n_features + 1))
