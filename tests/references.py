"""NumPy references, each written from its paper's algorithm box.

They are the ground truth of the step-by-step tests: plain loops over the
parameters in float64, sharing no code with `keras_optlab`. A reference
object holds its parameters and state; `step(grads, lr)` performs update t
(t = 1 on the first call) in place.

Base-class behaviour of `keras.optimizers.Optimizer` (loss scaling, gradient
accumulation, clipping, decoupled weight decay, EMA) is not part of any
paper; `run_reference` applies it around a reference as Keras documents it.
"""

import numpy as np


class Reference:
    # True where the optimizer's own rule contains the decoupled decay.
    handles_weight_decay = False

    def __init__(self, params, **hyper):
        self.params = [np.array(p, dtype=np.float64) for p in params]
        self.t = 0
        self.setup(**hyper)

    def zeros(self):
        return [np.zeros_like(p) for p in self.params]

    def step(self, grads, lr):
        self.t += 1
        for i, g in enumerate(grads):
            self.params[i] = self.update(i, np.asarray(g, np.float64), lr)


class GradientDescentRef(Reference):
    def setup(self):
        pass

    def update(self, i, g, lr):
        return self.params[i] - lr * g


class MomentumRef(Reference):
    """Polyak heavy ball, velocity form of Sutskever et al. (2013) eq. 1-2."""

    def setup(self, momentum=0.9):
        self.mu = momentum
        self.v = self.zeros()

    def update(self, i, g, lr):
        self.v[i] = self.mu * self.v[i] + lr * g
        return self.params[i] - self.v[i]


class NesterovRef(Reference):
    """NAG with the gradient taken at the stored parameters."""

    def setup(self, momentum=0.9):
        self.mu = momentum
        self.v = self.zeros()

    def update(self, i, g, lr):
        self.v[i] = self.mu * self.v[i] + lr * g
        return self.params[i] - (self.mu * self.v[i] + lr * g)


class NesterovLookaheadRef:
    """Sutskever et al. (2013) eq. 3-4 on a function given by its gradient:
    V = mu V + lr grad(Theta - mu V); Theta = Theta - V."""

    def __init__(self, theta, momentum, grad_fn):
        self.theta = np.array(theta, np.float64)
        self.velocity = np.zeros_like(self.theta)
        self.mu = momentum
        self.grad_fn = grad_fn

    def step(self, lr):
        lookahead = self.theta - self.mu * self.velocity
        self.velocity = self.mu * self.velocity + lr * self.grad_fn(lookahead)
        self.theta = self.theta - self.velocity


class AdagradRef(Reference):
    """Duchi et al. (2011), diagonal Adagrad; epsilon inside or outside."""

    def setup(
        self, initial_accumulator_value=0.0, epsilon=1e-7, epsilon_mode="inside"
    ):
        self.eps = epsilon
        self.mode = epsilon_mode
        self.G = [np.full_like(p, initial_accumulator_value) for p in self.params]

    def update(self, i, g, lr):
        self.G[i] = self.G[i] + g * g
        if self.mode == "outside":
            return self.params[i] - lr * g / (np.sqrt(self.G[i]) + self.eps)
        return self.params[i] - lr * g / np.sqrt(self.G[i] + self.eps)


class AdadeltaRef(Reference):
    """Zeiler (2012), Algorithm 1, the step scaled by lr (1.0 = paper)."""

    def setup(self, rho=0.95, epsilon=1e-6):
        self.rho, self.eps = rho, epsilon
        self.Eg2 = self.zeros()
        self.Edx2 = self.zeros()

    def update(self, i, g, lr):
        rho, eps = self.rho, self.eps
        self.Eg2[i] = rho * self.Eg2[i] + (1 - rho) * g * g
        dx = -np.sqrt(self.Edx2[i] + eps) / np.sqrt(self.Eg2[i] + eps) * g
        self.Edx2[i] = rho * self.Edx2[i] + (1 - rho) * dx * dx
        return self.params[i] + lr * dx


class RMSpropRef(Reference):
    """Tieleman and Hinton (2012); centered as Graves (2013) eq. 38-41."""

    def setup(
        self, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False
    ):
        self.rho, self.mu, self.eps, self.centered = (
            rho, momentum, epsilon, centered
        )
        self.ms = self.zeros()
        self.mg = self.zeros()
        self.mom = self.zeros()

    def update(self, i, g, lr):
        rho = self.rho
        self.ms[i] = rho * self.ms[i] + (1 - rho) * g * g
        denominator = self.ms[i] + self.eps
        if self.centered:
            self.mg[i] = rho * self.mg[i] + (1 - rho) * g
            denominator = denominator - self.mg[i] ** 2
        step = lr * g / np.sqrt(denominator)
        if self.mu > 0:
            self.mom[i] = self.mu * self.mom[i] + step
            step = self.mom[i]
        return self.params[i] - step


class AdamRef(Reference):
    """Kingma and Ba (2015) Algorithm 1 ("outside") and the epsilon-hat form of
    its section 2 ("hat"); AMSGrad as Reddi et al. (2018) with the max of the
    raw second moments."""

    def setup(
        self,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        epsilon_mode="hat",
        amsgrad=False,
    ):
        self.b1, self.b2, self.eps = beta_1, beta_2, epsilon
        self.mode, self.amsgrad = epsilon_mode, amsgrad
        self.m = self.zeros()
        self.v = self.zeros()
        self.vmax = self.zeros()

    def update(self, i, g, lr):
        b1, b2, t = self.b1, self.b2, self.t
        self.m[i] = b1 * self.m[i] + (1 - b1) * g
        self.v[i] = b2 * self.v[i] + (1 - b2) * g * g
        v = self.v[i]
        if self.amsgrad:
            self.vmax[i] = np.maximum(self.vmax[i], v)
            v = self.vmax[i]
        if self.mode == "outside":
            m_hat = self.m[i] / (1 - b1**t)
            v_hat = v / (1 - b2**t)
            return self.params[i] - lr * m_hat / (np.sqrt(v_hat) + self.eps)
        alpha = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
        return self.params[i] - alpha * self.m[i] / (np.sqrt(v) + self.eps)


class AdamWRef(AdamRef):
    """Loshchilov and Hutter (2019) Algorithm 2: decay the parameters by
    lr * w (their eta_t * lambda), then the Adam step, decay never entering
    the moments."""

    handles_weight_decay = True

    def setup(self, weight_decay=0.004, **adam_hyper):
        self.w = weight_decay
        super().setup(**adam_hyper)

    def update(self, i, g, lr):
        self.params[i] = self.params[i] - lr * self.w * self.params[i]
        return super().update(i, g, lr)


class AdamaxRef(Reference):
    """Kingma and Ba (2015) Algorithm 2, with epsilon added to u_t."""

    def setup(self, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        self.b1, self.b2, self.eps = beta_1, beta_2, epsilon
        self.m = self.zeros()
        self.u = self.zeros()

    def update(self, i, g, lr):
        self.m[i] = self.b1 * self.m[i] + (1 - self.b1) * g
        self.u[i] = np.maximum(self.b2 * self.u[i], np.abs(g))
        step = (lr / (1 - self.b1**self.t)) * self.m[i] / (self.u[i] + self.eps)
        return self.params[i] - step


class NadamRef(Reference):
    """Dozat (2016) as TensorFlow documents it: mu_t = beta_1 (1 - 0.5 *
    0.96^(psi t)), mbar = (1 - mu_t) g / (1 - prod_{i<=t} mu_i)
    + mu_{t+1} m / (1 - prod_{i<=t+1} mu_i)."""

    def setup(
        self,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        epsilon_mode="outside",
        momentum_decay=0.004,
    ):
        self.b1, self.b2, self.eps = beta_1, beta_2, epsilon
        self.mode, self.psi = epsilon_mode, momentum_decay
        self.m = self.zeros()
        self.v = self.zeros()
        self.product = 1.0  # prod_{i <= t} mu_i, advanced once per step

    def mu(self, t):
        return self.b1 * (1 - 0.5 * 0.96 ** (self.psi * t))

    def step(self, grads, lr):
        self.product *= self.mu(self.t + 1)
        super().step(grads, lr)

    def update(self, i, g, lr):
        t = self.t
        b1, b2 = self.b1, self.b2
        self.m[i] = b1 * self.m[i] + (1 - b1) * g
        self.v[i] = b2 * self.v[i] + (1 - b2) * g * g
        product_next = self.product * self.mu(t + 1)
        m_bar = (1 - self.mu(t)) * g / (1 - self.product) + self.mu(
            t + 1
        ) * self.m[i] / (1 - product_next)
        if self.mode == "outside":
            v_hat = self.v[i] / (1 - b2**t)
            return self.params[i] - lr * m_bar / (np.sqrt(v_hat) + self.eps)
        scale = lr * np.sqrt(1 - b2**t)
        return self.params[i] - scale * m_bar / (np.sqrt(self.v[i]) + self.eps)


class QHAdamRef(Reference):
    """Ma and Yarats (2019), the QHAdam box of section 6."""

    def setup(self, beta_1=0.995, beta_2=0.999, nu_1=0.7, nu_2=1.0,
              epsilon=1e-8):
        self.b1, self.b2, self.nu1, self.nu2, self.eps = (
            beta_1, beta_2, nu_1, nu_2, epsilon)
        self.g = self.zeros()
        self.s = self.zeros()

    def update(self, i, grad, lr):
        b1, b2, t = self.b1, self.b2, self.t
        self.g[i] = b1 * self.g[i] + (1 - b1) * grad
        self.s[i] = b2 * self.s[i] + (1 - b2) * grad**2
        g_prime = self.g[i] / (1 - b1**t)
        s_prime = self.s[i] / (1 - b2**t)
        numerator = (1 - self.nu1) * grad + self.nu1 * g_prime
        denominator = np.sqrt((1 - self.nu2) * grad**2 + self.nu2 * s_prime)
        return self.params[i] - lr * numerator / (denominator + self.eps)


class AdaBoundRef(Reference):
    """Luo et al. (2019) Algorithms 2 (AdaBound) and 3 (AMSBound) with the
    bound functions of section 5, 0.1 -+ 0.1 / ((1 - beta_2) t (+ 1)),
    written as final_lr (1 -+ 1 / (gamma t (+ 1))); without the 1/sqrt(t)
    of the regret analysis, with Adam's bias correction in the step size,
    and final_lr scaled by lr_t / max(lr_1..lr_t) (as the docstring of
    keras_optlab's AdaBound states)."""

    def setup(self, final_lr=0.1, gamma=1e-3, beta_1=0.9, beta_2=0.999,
              epsilon=1e-8, amsbound=False):
        self.final_lr, self.gamma = final_lr, gamma
        self.b1, self.b2, self.eps, self.amsbound = (
            beta_1, beta_2, epsilon, amsbound)
        self.m = self.zeros()
        self.v = self.zeros()
        self.vmax = self.zeros()
        self.peak_lr = 0.0

    def step(self, grads, lr):
        self.peak_lr = max(self.peak_lr, lr)
        super().step(grads, lr)

    def bounds(self, lr):
        final = self.final_lr * lr / self.peak_lr if self.peak_lr > 0 else 0.0
        gt = self.gamma * self.t
        return final * (1 - 1 / (gt + 1)), final * (1 + 1 / gt)

    def update(self, i, g, lr):
        b1, b2, t = self.b1, self.b2, self.t
        self.m[i] = b1 * self.m[i] + (1 - b1) * g
        self.v[i] = b2 * self.v[i] + (1 - b2) * g * g
        v = self.v[i]
        if self.amsbound:
            self.vmax[i] = np.maximum(self.vmax[i], v)
            v = self.vmax[i]
        alpha = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
        lower, upper = self.bounds(lr)
        eta = np.clip(alpha / (np.sqrt(v) + self.eps), lower, upper)
        return self.params[i] - eta * self.m[i]


class AdanRef(Reference):
    """Xie et al. (2022) Algorithm 1 as arXiv v1 writes it (its beta weighs
    the new term); the arguments are decays of the old value, as Adan takes
    them (the authors' code), converted here: v1's beta = 1 - argument.
    Initialised m_0 = g_0, v_0 = 0, v_1 = g_1 - g_0,
    n_0 = g_0^2; eta_k = eta / sqrt(n_k + eps) (or eps after the root);
    proximal weight decay 1 / (1 + lambda eta); no restart.
    Paper index k = self.t - 1."""

    handles_weight_decay = True

    def setup(self, beta_1=0.98, beta_2=0.92, beta_3=0.99, epsilon=1e-8,
              epsilon_mode="inside", weight_decay=0.0):
        self.b1, self.b2, self.b3 = 1 - beta_1, 1 - beta_2, 1 - beta_3
        self.eps, self.lam = epsilon, weight_decay
        self.eps_under_root = epsilon_mode == "inside"
        self.m = self.zeros()
        self.v = self.zeros()
        self.n = self.zeros()
        self.previous = self.zeros()

    def update(self, i, g, lr):
        k = self.t - 1
        b1, b2, b3 = self.b1, self.b2, self.b3
        if k == 0:
            self.m[i] = g
            self.v[i] = np.zeros_like(g)
            self.n[i] = g * g
        else:
            diff = g - self.previous[i]
            self.m[i] = (1 - b1) * self.m[i] + b1 * g
            if k == 1:
                self.v[i] = diff
            else:
                self.v[i] = (1 - b2) * self.v[i] + b2 * diff
            self.n[i] = (1 - b3) * self.n[i] + b3 * (g + (1 - b2) * diff) ** 2
        self.previous[i] = g
        if self.eps_under_root:  # eta_k = eta / sqrt(n_k + eps), Algorithm 1
            eta_k = lr / np.sqrt(self.n[i] + self.eps)
        else:  # the authors' code: eps after the root
            eta_k = lr / (np.sqrt(self.n[i]) + self.eps)
        theta = self.params[i] - eta_k * (self.m[i] + (1 - b2) * self.v[i])
        return theta / (1 + self.lam * lr)


class LARSRef(Reference):
    """You et al. (2017) Algorithm 1: local lr eta ||w|| / (||g|| + beta ||w||),
    v = m v + gamma * local_lr * (g + beta w), w -= v; local lr 1 where a
    norm is zero or where the name "v{i}" matches exclude_from_adaptation."""

    handles_weight_decay = True

    def setup(self, momentum=0.9, weight_decay=0.0, eta=0.001,
              exclude_from_adaptation=()):
        self.mu, self.beta, self.eta = momentum, weight_decay or 0.0, eta
        self.excluded = exclude_from_adaptation or ()
        self.velocity = self.zeros()

    def update(self, i, g, lr):
        import re

        w = self.params[i]
        w_norm, g_norm = np.linalg.norm(w), np.linalg.norm(g)
        adapt = not any(re.search(p, f"v{i}") for p in self.excluded)
        local_lr = 1.0
        if adapt and w_norm > 0 and g_norm > 0:
            local_lr = self.eta * w_norm / (g_norm + self.beta * w_norm)
        self.velocity[i] = (self.mu * self.velocity[i]
                            + lr * local_lr * (g + self.beta * w))
        return w - self.velocity[i]


class ProdigyRef(Reference):
    """Mishchenko and Defazio (2023) Algorithm 4 (Prodigy, Adam version),
    beta_3 in place of sqrt(beta_2) when given, with the authors' options:
    growth rate, decoupled weight decay by gamma d lambda, bias correction
    of gamma, and the safeguard that leaves gamma out of s."""

    handles_weight_decay = True

    def setup(self, beta_1=0.9, beta_2=0.999, beta_3=None, epsilon=1e-8,
              d0=1e-6, growth_rate=np.inf, weight_decay=0.0,
              use_bias_correction=False, safeguard_warmup=False):
        self.b1, self.b2 = beta_1, beta_2
        self.b3 = np.sqrt(beta_2) if beta_3 is None else beta_3
        self.eps, self.d, self.growth = epsilon, d0, growth_rate
        self.lam = weight_decay or 0.0
        self.bias_correction, self.safeguard = use_bias_correction, safeguard_warmup
        self.x0 = [p.copy() for p in self.params]
        self.m, self.v, self.s = self.zeros(), self.zeros(), self.zeros()
        self.r = 0.0

    def step(self, grads, lr):
        self.t += 1
        b1, b2, b3, d = self.b1, self.b2, self.b3, self.d
        gamma = lr
        if self.bias_correction:
            gamma = lr * np.sqrt(1 - b2**self.t) / (1 - b1**self.t)
        inner = 0.0
        for i, g in enumerate(grads):
            g = np.asarray(g, np.float64)
            x = self.params[i]
            inner += np.sum(g * (self.x0[i] - x))
            self.m[i] = b1 * self.m[i] + (1 - b1) * d * g
            self.v[i] = b2 * self.v[i] + (1 - b2) * d**2 * g**2
            s_gamma = 1.0 if self.safeguard else gamma
            self.s[i] = b3 * self.s[i] + (1 - b3) * s_gamma * d**2 * g
            self.params[i] = (x - gamma * d * self.m[i]
                              / (np.sqrt(self.v[i]) + d * self.eps)
                              - gamma * d * self.lam * x)
        self.r = b3 * self.r + (1 - b3) * gamma * d**2 * inner
        s_norm = sum(np.sum(np.abs(s)) for s in self.s)
        if s_norm > 0:
            d_hat = self.r / s_norm
            self.d = max(d, min(d_hat, self.growth * d))
class RAdamRef(Reference):
    """Liu et al. (2020) Algorithm 2; epsilon added to sqrt(v_hat) ("outside",
    as Adam's Algorithm 1) or to sqrt(v) ("hat"); the adaptive step while
    rho_t > sma_threshold, the bias-corrected momentum step otherwise."""

    def setup(
        self,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        epsilon_mode="outside",
        sma_threshold=4.0,
    ):
        self.b1, self.b2, self.eps = beta_1, beta_2, epsilon
        self.mode, self.threshold = epsilon_mode, sma_threshold
        self.rho_inf = 2.0 / (1.0 - beta_2) - 1.0
        self.m = self.zeros()
        self.v = self.zeros()
        self.tractable_steps = []  # t at which the adaptive step was taken

    def rho(self, t):
        return self.rho_inf - 2.0 * t * self.b2**t / (1.0 - self.b2**t)

    def update(self, i, g, lr):
        b1, b2, t = self.b1, self.b2, self.t
        self.v[i] = b2 * self.v[i] + (1 - b2) * g * g
        self.m[i] = b1 * self.m[i] + (1 - b1) * g
        m_hat = self.m[i] / (1 - b1**t)
        rho_t, rho_inf = self.rho(t), self.rho_inf
        if rho_t > self.threshold:
            if i == 0:
                self.tractable_steps.append(t)
            r = np.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                        / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            if self.mode == "outside":
                l = 1.0 / (np.sqrt(self.v[i] / (1 - b2**t)) + self.eps)
            else:
                l = np.sqrt(1 - b2**t) / (np.sqrt(self.v[i]) + self.eps)
            return self.params[i] - lr * r * m_hat * l
        return self.params[i] - lr * m_hat


class YogiRef(Reference):
    """Zaheer et al. (2018) Algorithm 2: additive v update with sign; v_0 =
    initial_accumulator_value; "debias" scales lr by sqrt(1 - b2^t) /
    (1 - b1^t) as TensorFlow Addons did."""

    def setup(
        self,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-3,
        initial_accumulator_value=1e-6,
        debias=False,
    ):
        self.b1, self.b2, self.eps, self.debias = (
            beta_1, beta_2, epsilon, debias
        )
        self.m = self.zeros()
        self.v = [np.full_like(p, initial_accumulator_value)
                  for p in self.params]
        self.sign_flips = 0  # coordinates where v went up after going down
        self.last_sign = [np.zeros_like(p) for p in self.params]

    def update(self, i, g, lr):
        self.m[i] = self.b1 * self.m[i] + (1 - self.b1) * g
        sign = np.sign(self.v[i] - g * g)
        self.sign_flips += int(np.sum(sign * self.last_sign[i] < 0))
        self.last_sign[i] = sign
        self.v[i] = self.v[i] - (1 - self.b2) * sign * g * g
        if self.debias:
            lr = lr * np.sqrt(1 - self.b2**self.t) / (1 - self.b1**self.t)
        return self.params[i] - lr * self.m[i] / (np.sqrt(self.v[i]) + self.eps)


class AdaBeliefRef(Reference):
    """Zhuang et al. (2020) Algorithm 2: s_t = b2 s + (1 - b2)(g - m_t)^2 +
    eps; with AMSGrad s_t = max(s_t, s_{t-1}) (the maximum is the state);
    theta -= lr m_hat / (sqrt(s_t / (1 - b2^t)) + eps)."""

    def setup(self, beta_1=0.9, beta_2=0.999, epsilon=1e-16, amsgrad=False):
        self.b1, self.b2, self.eps, self.amsgrad = (
            beta_1, beta_2, epsilon, amsgrad
        )
        self.m = self.zeros()
        self.s = self.zeros()

    def update(self, i, g, lr):
        b1, b2, t, eps = self.b1, self.b2, self.t, self.eps
        self.m[i] = b1 * self.m[i] + (1 - b1) * g
        s = b2 * self.s[i] + (1 - b2) * (g - self.m[i]) ** 2 + eps
        if self.amsgrad:
            s = np.maximum(s, self.s[i])
        self.s[i] = s
        m_hat = self.m[i] / (1 - b1**t)
        s_hat = s / (1 - b2**t)
        return self.params[i] - lr * m_hat / (np.sqrt(s_hat) + eps)


class NovoGradRef(Reference):
    """Ginsburg et al. (2019) Algorithm 1 per variable: v_1 = ||g_1||^2,
    then an EMA of ||g||^2; m = b1 m + (g / (sqrt(v) + eps) + d theta),
    times (1 - b1) with grad averaging; theta -= lr m."""

    handles_weight_decay = True

    def setup(
        self,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        weight_decay=None,
        grad_averaging=False,
    ):
        self.b1, self.b2, self.eps = beta_1, beta_2, epsilon
        self.d = weight_decay or 0.0
        self.averaging = grad_averaging
        self.m = self.zeros()
        self.v = [0.0 for _ in self.params]

    def update(self, i, g, lr):
        norm_squared = float(np.sum(g * g))
        if self.t == 1:
            self.v[i] = norm_squared
        else:
            self.v[i] = self.b2 * self.v[i] + (1 - self.b2) * norm_squared
        u = g / (np.sqrt(self.v[i]) + self.eps) + self.d * self.params[i]
        if self.averaging:
            u = (1 - self.b1) * u
        self.m[i] = self.b1 * self.m[i] + u
        return self.params[i] - lr * self.m[i]


# --- Issue 14 (opt-b): MADGRAD, AdEMAMix ------------------------------------


class MADGRADRef(Reference):
    """Defazio and Jelassi (2021) Algorithm 1, paper index k = t - 1:
    lambda_k = lr sqrt(k + 1); s += lambda_k g; nu += lambda_k g^2;
    z = x_0 - s / (cbrt(nu) + eps); x = (1 - c) x + c z, c = 1 - momentum.
    Weight decay as in the paper's experiments: lambda x_k added to g_k."""

    handles_weight_decay = True

    def setup(self, momentum=0.9, epsilon=1e-6, weight_decay=None):
        self.c, self.eps = 1.0 - momentum, epsilon
        self.lam = weight_decay or 0.0
        self.x0 = [p.copy() for p in self.params]
        self.s = self.zeros()
        self.nu = self.zeros()

    def update(self, i, g, lr):
        k = self.t - 1
        x = self.params[i]
        g = g + self.lam * x
        step = lr * np.sqrt(k + 1)
        self.s[i] = self.s[i] + step * g
        self.nu[i] = self.nu[i] + step * g * g
        z = self.x0[i] - self.s[i] / (np.cbrt(self.nu[i]) + self.eps)
        return (1.0 - self.c) * x + self.c * z


class AdEMAMixRef(Reference):
    """Pagliardini, Ablin and Grangier (2024) Algorithm 1: Adam's m_1 and
    nu, bias-corrected, plus alpha(t) times the uncorrected slow EMA m_2 of
    decay beta_3(t); eps outside the root. With T = warmup_steps and t < T
    the paper's schedulers, alpha(t) = min(t alpha / T, alpha) and
    beta_3(t) = min(exp(ln b_s ln b_3 / ((1 - t/T) ln b_3 + t/T ln b_s)),
    b_3) with b_s = beta_1; from t = T on (and without T) the final
    values. Decoupled weight decay is Keras' (run_reference)."""

    def setup(self, beta_1=0.9, beta_2=0.999, beta_3=0.9999, alpha=5.0,
              epsilon=1e-8, warmup_steps=None):
        self.b1, self.b2, self.b3 = beta_1, beta_2, beta_3
        self.alpha, self.eps, self.T = alpha, epsilon, warmup_steps
        self.m1, self.m2, self.nu = self.zeros(), self.zeros(), self.zeros()

    def scheduled(self, t):
        """(beta_3(t), alpha(t))."""
        if self.T is None or t >= self.T:
            return self.b3, self.alpha
        T, ln_s, ln_3 = self.T, np.log(self.b1), np.log(self.b3)
        alpha = min(t * self.alpha / T, self.alpha)
        beta_3 = min(np.exp(ln_s * ln_3
                            / ((1 - t / T) * ln_3 + (t / T) * ln_s)), self.b3)
        return beta_3, alpha

    def update(self, i, g, lr):
        t, b1, b2 = self.t, self.b1, self.b2
        b3, alpha = self.scheduled(t)
        self.m1[i] = b1 * self.m1[i] + (1 - b1) * g
        self.m2[i] = b3 * self.m2[i] + (1 - b3) * g
        self.nu[i] = b2 * self.nu[i] + (1 - b2) * g * g
        m1_hat = self.m1[i] / (1 - b1**t)
        nu_hat = self.nu[i] / (1 - b2**t)
        return self.params[i] - lr * (m1_hat + alpha * self.m2[i]) / (
            np.sqrt(nu_hat) + self.eps)


class LazyAdamRef:
    """Adam applied row by row to the rows a sparse gradient names (summed
    over duplicate indices); other rows of theta, m and v keep their values.
    epsilon-hat form; t counts every step."""

    def __init__(self, param, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        self.param = np.array(param, np.float64)
        self.m = np.zeros_like(self.param)
        self.v = np.zeros_like(self.param)
        self.b1, self.b2, self.eps = beta_1, beta_2, epsilon
        self.t = 0

    def step(self, indices, values, lr):
        self.t += 1
        rows = {}
        for index, value in zip(indices, values):
            rows[index] = rows.get(index, 0.0) + np.asarray(value, np.float64)
        alpha = lr * np.sqrt(1 - self.b2**self.t) / (1 - self.b1**self.t)
        for index, g in rows.items():
            self.m[index] = self.b1 * self.m[index] + (1 - self.b1) * g
            self.v[index] = self.b2 * self.v[index] + (1 - self.b2) * g * g
            self.param[index] = self.param[index] - alpha * self.m[index] / (
                np.sqrt(self.v[index]) + self.eps)


class ADOPTRef(Reference):
    """Taniguchi et al. (2024) ADOPT, the box of arXiv:2411.02853v3: the
    first call's gradient is g_0, v_0 = g_0^2, no parameter update; then for
    t = 1, 2, ... (t = calls before this one) m_t = b1 m + (1 - b1)
    clip(g_t / max(sqrt(v_{t-1}), eps), t^e), theta -= lr m_t,
    v_t = b2 v + (1 - b2) g_t^2; no clipping for clip_exponent None."""

    def setup(self, beta_1=0.9, beta_2=0.9999, epsilon=1e-6,
              clip_exponent=0.25):
        self.b1, self.b2, self.eps = beta_1, beta_2, epsilon
        self.exponent = clip_exponent
        self.m = self.zeros()
        self.v = self.zeros()

    def update(self, i, g, lr):
        t = self.t - 1  # the paper's index: g_0 on the first call
        if t == 0:
            self.v[i] = g * g
            return self.params[i]
        normalised = g / np.maximum(np.sqrt(self.v[i]), self.eps)
        if self.exponent is not None:
            c = float(t) ** self.exponent
            normalised = np.clip(normalised, -c, c)
        self.m[i] = self.b1 * self.m[i] + (1 - self.b1) * normalised
        theta = self.params[i] - lr * self.m[i]
        self.v[i] = self.b2 * self.v[i] + (1 - self.b2) * g * g
        return theta


class LionRef(Reference):
    """Chen et al. (2023) Algorithm 2 without its weight decay, which is
    Keras' decoupled decay (run_reference applies it before the step):
    c = b1 m + (1 - b1) g; theta -= lr sign(c); m = b2 m + (1 - b2) g."""

    def setup(self, beta_1=0.9, beta_2=0.99):
        self.b1, self.b2 = beta_1, beta_2
        self.m = self.zeros()

    def update(self, i, g, lr):
        c = self.b1 * self.m[i] + (1 - self.b1) * g
        theta = self.params[i] - lr * np.sign(c)
        self.m[i] = self.b2 * self.m[i] + (1 - self.b2) * g
        return theta


class LAMBRef(Reference):
    """You et al. (2020) Algorithm 2 (arXiv:1904.00962v5): Adam's
    bias-corrected ratio r = m_hat / (sqrt(v_hat) + eps), u = r + lambda x,
    x -= lr ||x|| / ||u|| u per variable, phi the identity; the trust ratio
    1 where a norm is zero."""

    handles_weight_decay = True

    def setup(self, beta_1=0.9, beta_2=0.999, epsilon=1e-6,
              weight_decay=None):
        self.b1, self.b2, self.eps = beta_1, beta_2, epsilon
        self.lam = weight_decay or 0.0
        self.m = self.zeros()
        self.v = self.zeros()

    def update(self, i, g, lr):
        b1, b2, t = self.b1, self.b2, self.t
        x = self.params[i]
        self.m[i] = b1 * self.m[i] + (1 - b1) * g
        self.v[i] = b2 * self.v[i] + (1 - b2) * g * g
        m_hat = self.m[i] / (1 - b1**t)
        v_hat = self.v[i] / (1 - b2**t)
        r = m_hat / (np.sqrt(v_hat) + self.eps)
        u = r + self.lam * x
        x_norm, u_norm = np.linalg.norm(x), np.linalg.norm(u)
        ratio = x_norm / u_norm if x_norm > 0 and u_norm > 0 else 1.0
        return x - lr * ratio * u


# Issue 14 (muon): Muon.


class MuonRef(Reference):
    """Jordan et al. (2024), the blog's algorithm: B = mu B + G; U = G + mu
    B (Nesterov) or B; X = U / (||U||_F + eps), transposed to rows <= cols;
    ns_steps times X = a X + b (X X^T) X + c (X X^T)^2 X with (a, b, c) =
    (3.4445, -4.7750, 2.0315); W -= lr * s * X. Variables of rank >= 2 are
    matrices (fan_in = product of all axes but the last, fan_out = the
    last); the others, and those named by `exclude_layers` (searched in the
    names v0, v1, ... that tests/helpers.py gives), take AdamW (Kingma and
    Ba, Algorithm 1 or the epsilon-hat form) at lr * adam_lr_ratio.
    Keras' decoupled decay is applied around it by run_reference."""

    COEFFICIENTS = (3.4445, -4.7750, 2.0315)

    def setup(self, momentum=0.95, nesterov=True, ns_steps=5, epsilon=1e-7,
              shape_scaling="original", flatten_kernels=True,
              exclude_embeddings=True, exclude_layers=None,
              adam_lr_ratio=0.015, adam_beta_1=0.9, adam_beta_2=0.95,
              adam_epsilon=1e-10, adam_epsilon_mode="outside"):
        import re

        self.mu, self.nesterov, self.ns_steps = momentum, nesterov, ns_steps
        self.eps, self.scaling = epsilon, shape_scaling
        self.ratio, self.b1, self.b2 = adam_lr_ratio, adam_beta_1, adam_beta_2
        self.adam_eps, self.adam_mode = adam_epsilon, adam_epsilon_mode
        self.muon = []
        for i, p in enumerate(self.params):
            name = f"v{i}"
            matrix = p.ndim == 2 or (p.ndim > 2 and flatten_kernels)
            excluded = any(re.search(e, name) for e in exclude_layers or ())
            if exclude_embeddings and "embedding" in name.lower():
                excluded = True
            self.muon.append(matrix and not excluded)
        self.B = self.zeros()
        self.m = self.zeros()
        self.v = self.zeros()

    @classmethod
    def orthogonalize(cls, u, steps, eps):
        a, b, c = cls.COEFFICIENTS
        x = u.T if u.shape[0] > u.shape[1] else u
        x = x / (np.sqrt(np.sum(x * x)) + eps)
        for _ in range(steps):
            xxt = x @ x.T
            x = a * x + b * (xxt @ x) + c * (xxt @ (xxt @ x))
        return x.T if u.shape[0] > u.shape[1] else x

    def scale(self, fan_in, fan_out):
        if self.scaling == "original":
            return np.sqrt(max(1.0, fan_out / fan_in))
        if self.scaling == "match_rms_adamw":
            return 0.2 * np.sqrt(max(fan_in, fan_out))
        return 1.0

    def update(self, i, g, lr):
        if not self.muon[i]:
            return self.adamw(i, g, lr * self.ratio)
        self.B[i] = self.mu * self.B[i] + g
        u = g + self.mu * self.B[i] if self.nesterov else self.B[i]
        shape = u.shape
        fan_in, fan_out = int(np.prod(shape[:-1])), shape[-1]
        o = self.orthogonalize(u.reshape(fan_in, fan_out), self.ns_steps,
                               self.eps)
        return self.params[i] - lr * self.scale(fan_in, fan_out) * \
            o.reshape(shape)

    def adamw(self, i, g, lr):
        b1, b2, t = self.b1, self.b2, self.t
        self.m[i] = b1 * self.m[i] + (1 - b1) * g
        self.v[i] = b2 * self.v[i] + (1 - b2) * g * g
        if self.adam_mode == "outside":
            m_hat = self.m[i] / (1 - b1**t)
            v_hat = self.v[i] / (1 - b2**t)
            return self.params[i] - lr * m_hat / (np.sqrt(v_hat)
                                                  + self.adam_eps)
        alpha = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
        return self.params[i] - alpha * self.m[i] / (np.sqrt(self.v[i])
                                                     + self.adam_eps)


class MARSRef(Reference):
    """Yuan et al. (2024) MARS-AdamW, approximate form (Algorithm 2 with
    g_{t-1} the previous step's gradient): c = g + gamma b1 / (1 - b1)
    (g - g_prev), with no correction on the first step (x_1 = x_0 in the
    paper, so the correction is zero); c / ||c|| where ||c|| > 1 (per
    variable); then Adam's bias-corrected step on c with epsilon after the
    root. Decay is Keras' decoupled decay (run_reference)."""

    def setup(self, beta_1=0.95, beta_2=0.99, gamma=0.025, epsilon=1e-8):
        self.b1, self.b2, self.gamma, self.eps = beta_1, beta_2, gamma, epsilon
        self.m = self.zeros()
        self.v = self.zeros()
        self.g_prev = [None] * len(self.params)

    def update(self, i, g, lr):
        b1, b2, t = self.b1, self.b2, self.t
        if self.g_prev[i] is None:
            c = g.copy()
        else:
            c = g + self.gamma * b1 / (1 - b1) * (g - self.g_prev[i])
        norm = np.linalg.norm(c)
        if norm > 1:
            c = c / norm
        self.m[i] = b1 * self.m[i] + (1 - b1) * c
        self.v[i] = b2 * self.v[i] + (1 - b2) * c * c
        m_hat = self.m[i] / (1 - b1**t)
        v_hat = self.v[i] / (1 - b2**t)
        self.g_prev[i] = g.copy()
        return self.params[i] - lr * m_hat / (np.sqrt(v_hat) + self.eps)


# Issue 14 (dadapt): D-Adaptation.


class DAdaptAdamRef(Reference):
    """Defazio and Mishchenko (2023), the D-Adapt Adam box: with
    dlr = d_k gamma_k, m = b1 m + (1 - b1) dlr g, v = b2 v + (1 - b2) g^2,
    A = sqrt(v) + eps, x -= m / A; s' = sqrt(b2) s + (1 - sqrt(b2)) dlr g,
    r = sqrt(b2) r + (1 - sqrt(b2)) dlr sum(g s / A) (s before its update),
    d = max(d, min(r / ((1 - sqrt(b2)) ||s'||_1), G d)) where ||s'||_1 > 0;
    the authors' options: growth rate, bias correction of gamma, decay
    decoupled (x -= dlr lambda x, before the step) or L2 (g += lambda x)."""

    handles_weight_decay = True

    def setup(self, beta_1=0.9, beta_2=0.999, epsilon=1e-8, d0=1e-6,
              growth_rate=np.inf, weight_decay=None, decouple=True,
              use_bias_correction=False):
        self.b1, self.b2, self.eps = beta_1, beta_2, epsilon
        self.d, self.growth = d0, growth_rate
        self.lam, self.decouple = weight_decay or 0.0, decouple
        self.bias_correction = use_bias_correction
        self.m, self.v, self.s = self.zeros(), self.zeros(), self.zeros()
        self.r = 0.0

    def step(self, grads, lr):
        self.t += 1
        b1, b2 = self.b1, self.b2
        sb2 = np.sqrt(b2)
        gamma = lr
        if self.bias_correction:
            gamma = lr * np.sqrt(1 - b2**self.t) / (1 - b1**self.t)
        dlr = self.d * gamma
        inner = 0.0
        for i, g in enumerate(grads):
            x = self.params[i]
            g = np.asarray(g, np.float64)
            if not self.decouple:
                g = g + self.lam * x
            self.m[i] = b1 * self.m[i] + (1 - b1) * dlr * g
            self.v[i] = b2 * self.v[i] + (1 - b2) * g * g
            a = np.sqrt(self.v[i]) + self.eps
            inner += np.sum(g * self.s[i] / a)
            self.s[i] = sb2 * self.s[i] + (1 - sb2) * dlr * g
            if self.decouple:
                x = x - dlr * self.lam * x
            self.params[i] = x - self.m[i] / a
        self.r = sb2 * self.r + (1 - sb2) * dlr * inner
        s_norm = sum(np.sum(np.abs(s)) for s in self.s)
        if s_norm > 0:
            d_hat = self.r / ((1 - sb2) * s_norm)
            self.d = max(self.d, min(d_hat, self.growth * self.d))


class DAdaptSGDRef(Reference):
    """Defazio and Mishchenko (2023), the D-Adapt SGD box: lambda = d gamma
    / ||g_0|| (||g_0|| over all variables; the first non-zero gradient's,
    lambda = 0 before it), s += lambda g, z -= lambda g (z_0 = x_0),
    x = beta x + (1 - beta) z, N += lambda <g, s> (s before its update),
    d = max(d, min(2 N / ||s||, G d)) where ||s|| > 0; L2 decay lambda x
    added to the gradient after ||g_0|| is taken (as the authors' code)."""

    handles_weight_decay = True

    def setup(self, momentum=0.9, d0=1e-6, growth_rate=np.inf,
              weight_decay=None):
        self.beta, self.d, self.growth = momentum, d0, growth_rate
        self.lam = weight_decay or 0.0
        self.s = self.zeros()
        self.z = [p.copy() for p in self.params]
        self.numerator, self.g0 = 0.0, 0.0

    def step(self, grads, lr):
        self.t += 1
        grads = [np.asarray(g, np.float64) for g in grads]
        if self.g0 == 0:
            self.g0 = np.sqrt(sum(np.sum(g * g) for g in grads))
        step = self.d * lr / self.g0 if self.g0 > 0 else 0.0
        inner = 0.0
        for i, g in enumerate(grads):
            x = self.params[i]
            g = g + self.lam * x
            inner += np.sum(g * self.s[i])
            self.s[i] = self.s[i] + step * g
            self.z[i] = self.z[i] - step * g
            self.params[i] = self.beta * x + (1 - self.beta) * self.z[i]
        self.numerator += step * inner
        s_norm = np.sqrt(sum(np.sum(s * s) for s in self.s))
        if s_norm > 0:
            d_hat = 2 * self.numerator / s_norm
            self.d = max(self.d, min(d_hat, self.growth * self.d))


# Issue 14 (shampoo): Shampoo.


class ShampooRef(Reference):
    """Gupta, Koren and Singer (2018) Shampoo for tensors (Algorithm 2)
    with the Distributed Shampoo parts (Anil et al. 2020, Shi et al. 2023),
    as the box in keras_optlab/optimizers/shampoo.py states them:
    gradient EMA M (beta_1, bias-corrected), per block of at most
    block_size per dimension one factor per dimension, F_i = beta_2 F_i +
    (1 - beta_2) G_(i) G_(i)^T (sum for beta_2 = 1), roots
    (F_i / (1 - beta_2^t) + eps I)^(-1/2k) from numpy.linalg.eigh every
    `frequency` steps from `start` on, preconditioned M_hat grafted per
    block to the norm of the Adam/Adagrad/SGD direction; vectors and
    scalars diagonal. Written with explicit unfoldings (moveaxis + reshape)
    and index loops over the blocks."""

    def setup(self, beta_1=0.9, beta_2=1.0, epsilon=1e-6,
              precondition_frequency=10, start_preconditioning_step=None,
              block_size=1024, grafting="adam", grafting_beta_2=0.999,
              grafting_epsilon=1e-8):
        self.b1, self.b2, self.eps = beta_1, beta_2, epsilon
        self.freq = precondition_frequency
        self.start = (precondition_frequency
                      if start_preconditioning_step is None
                      else start_preconditioning_step)
        self.bs, self.grafting = block_size, grafting
        self.gb2, self.geps = grafting_beta_2, grafting_epsilon
        self.m = self.zeros()
        self.a = self.zeros()
        self.factors, self.roots = [], []
        for p in self.params:
            blocks = {}
            if p.ndim >= 2:
                for corner in np.ndindex(*[-(-n // self.bs)
                                           for n in p.shape]):
                    sizes = [min(self.bs, n - c * self.bs)
                             for c, n in zip(corner, p.shape)]
                    blocks[corner] = sizes
            self.factors.append({c: [np.zeros((n, n)) for n in s]
                                 for c, s in blocks.items()})
            self.roots.append({c: [np.eye(n) for n in s]
                               for c, s in blocks.items()})

    def _region(self, corner, shape):
        return tuple(slice(c * self.bs, min((c + 1) * self.bs, n))
                     for c, n in zip(corner, shape))

    def _root(self, f, k):
        f = (f + f.T) / 2
        lam, q = np.linalg.eigh(f)
        lam = np.maximum(lam, 0.0) + self.eps
        return (q * lam ** (-1.0 / (2 * k))) @ q.T

    def update(self, i, g, lr):
        t = self.t
        if self.b1 > 0:
            self.m[i] = self.b1 * self.m[i] + (1 - self.b1) * g
            m_hat = self.m[i] / (1 - self.b1 ** t)
        else:
            m_hat = g
        c = 1.0 if self.b2 == 1.0 else 1 - self.b2 ** t
        if self.grafting == "adagrad":
            self.a[i] = self.a[i] + g * g
            d = m_hat / (np.sqrt(self.a[i]) + self.geps)
        elif self.grafting == "adam":
            self.a[i] = self.gb2 * self.a[i] + (1 - self.gb2) * g * g
            d = m_hat / (np.sqrt(self.a[i] / (1 - self.gb2 ** t))
                         + self.geps)
        else:  # sgd, or None (then unused)
            d = m_hat
        p = self.params[i]
        if p.ndim <= 1:
            if self.grafting is not None:
                return p - lr * d
            if self.b2 == 1.0:
                self.a[i] = self.a[i] + g * g
            else:
                self.a[i] = self.b2 * self.a[i] + (1 - self.b2) * g * g
            return p - lr * m_hat / np.sqrt(self.a[i] / c + self.eps)
        k = p.ndim
        u = np.zeros_like(p)
        recompute = t >= self.start and (t - self.start) % self.freq == 0
        for corner, factors in self.factors[i].items():
            region = self._region(corner, p.shape)
            gb = g[region]
            for axis in range(k):
                unfolded = np.moveaxis(gb, axis, 0).reshape(gb.shape[axis],
                                                            -1)
                gram = unfolded @ unfolded.T
                if self.b2 == 1.0:
                    factors[axis] = factors[axis] + gram
                else:
                    factors[axis] = (self.b2 * factors[axis]
                                     + (1 - self.b2) * gram)
                if recompute:
                    self.roots[i][corner][axis] = self._root(
                        factors[axis] / c, k)
            mb, db = m_hat[region], d[region]
            if t < self.start:
                u[region] = mb if self.grafting is None else db
                continue
            pb = mb
            for axis in range(k):  # mode-axis product with the root
                pb = np.moveaxis(np.tensordot(self.roots[i][corner][axis],
                                              pb, axes=([1], [axis])),
                                 0, axis)
            if self.grafting is not None:
                norm = np.linalg.norm(pb)
                pb = pb * (np.linalg.norm(db) / norm if norm > 0 else 0.0)
            u[region] = pb
        return p - lr * u


# Issue 14 (adafactor): Adafactor.


class AdafactorRef(Reference):
    """Shazeer and Stern (2018), Algorithm 4 for variables of rank >= 2
    (each matrix of the last two axes) and Algorithm 5 for the others,
    with the box's sums: R = beta R + (1 - beta) (G^2 + eps_1) 1_m (row
    sums), C = beta C + (1 - beta) 1_n^T (G^2 + eps_1) (column sums),
    V = R C / (1_n^T R); U = G / sqrt(V); U / max(1, RMS(U) / d);
    x -= max(eps_2, RMS(x)) rho U, beta = 1 - t^c, rho = min(lr, t^-1/2)
    under relative_step. With beta_1, the authors' code (tensor2tensor):
    M = beta_1 M + (1 - beta_1) alpha U; x -= M."""

    def setup(self, beta_2_decay=-0.8, epsilon_1=1e-30, epsilon_2=1e-3,
              clip_threshold=1.0, relative_step=True, scale_parameter=True,
              beta_1=None):
        self.c, self.eps1, self.eps2 = beta_2_decay, epsilon_1, epsilon_2
        self.d, self.relative, self.scale = (clip_threshold, relative_step,
                                             scale_parameter)
        self.b1 = beta_1
        self.R = [np.zeros(p.shape[:-1]) if p.ndim >= 2 else None
                  for p in self.params]
        self.C = [np.zeros(p.shape[:-2] + p.shape[-1:]) if p.ndim >= 2
                  else None for p in self.params]
        self.V = self.zeros()
        self.M = self.zeros()

    @staticmethod
    def rms(a):
        return np.sqrt(np.mean(a * a))

    def update(self, i, g, lr):
        t, x = self.t, self.params[i]
        beta = 1.0 - t ** self.c
        g2 = g * g + self.eps1
        if x.ndim >= 2:
            self.R[i] = beta * self.R[i] + (1 - beta) * g2.sum(axis=-1)
            self.C[i] = beta * self.C[i] + (1 - beta) * g2.sum(axis=-2)
            total = self.R[i].sum(axis=-1)[..., None, None]
            v = self.R[i][..., :, None] * self.C[i][..., None, :] / total
        else:
            self.V[i] = beta * self.V[i] + (1 - beta) * g2
            v = self.V[i]
        u = g / np.sqrt(v)
        if self.d is not None:
            u = u / max(1.0, self.rms(u) / self.d)
        rho = min(lr, t ** -0.5) if self.relative else lr
        alpha = max(self.eps2, self.rms(x)) * rho if self.scale else rho
        if self.b1:
            self.M[i] = self.b1 * self.M[i] + (1 - self.b1) * alpha * u
            return x - self.M[i]
        return x - alpha * u

class SOAPRef(Reference):
    """Vyas et al. (2024) SOAP, Algorithm 1 (m x n layer) for tensors, as
    the box in keras_optlab/optimizers/soap.py states it: per dimension of
    size <= max_precondition_dim a factor F (EMA of the unfolding's Gram
    matrix, decay shampoo_beta or beta_2) and a basis Q (identity at
    first); Adam (epsilon outside the root, bias correction folded into
    the step) on the gradient rotated into the bases, the first moment kept
    in the original coordinates; at t = f the bases become numpy.linalg's
    eigh eigenvectors (decreasing eigenvalues), at later multiples of f
    one power iteration F Q with Q's columns sorted by diag(Q^T F Q)
    (decreasing) and numpy.linalg.qr, V's axes permuted by the same sort.
    Rotations written as tensordot over one axis at a time."""

    def setup(self, beta_1=0.95, beta_2=0.95, epsilon=1e-8,
              precondition_frequency=10, max_precondition_dim=10000,
              shampoo_beta=None):
        self.b1, self.b2, self.eps = beta_1, beta_2, epsilon
        self.bs = beta_2 if shampoo_beta is None else shampoo_beta
        self.freq, self.max_dim = precondition_frequency, max_precondition_dim
        self.m, self.v = self.zeros(), self.zeros()
        self.factors, self.bases = [], []
        for p in self.params:
            kept = p.ndim >= 2
            self.factors.append([np.zeros((n, n)) if kept and n <= self.max_dim
                                 else None for n in p.shape])
            self.bases.append([np.eye(n) if kept and n <= self.max_dim
                               else None for n in p.shape])

    @staticmethod
    def _rotate(x, bases, back):
        for axis, q in enumerate(bases):
            if q is None:
                continue
            # New coordinates: q^T x along `axis` (back: q x).
            x = np.moveaxis(np.tensordot(q if back else q.T, x,
                                         axes=([1], [axis])), 0, axis)
        return x

    def update(self, i, g, lr):
        t = self.t
        bases = self.bases[i]
        self.m[i] = self.b1 * self.m[i] + (1 - self.b1) * g
        g_rot = self._rotate(g, bases, back=False)
        m_rot = self._rotate(self.m[i], bases, back=False)
        self.v[i] = self.b2 * self.v[i] + (1 - self.b2) * g_rot * g_rot
        n = self._rotate(m_rot / (np.sqrt(self.v[i]) + self.eps), bases,
                         back=True)
        alpha = lr * np.sqrt(1 - self.b2 ** t) / (1 - self.b1 ** t)
        new = self.params[i] - alpha * n
        for axis, f in enumerate(self.factors[i]):
            if f is None:
                continue
            unfolded = np.moveaxis(g, axis, 0).reshape(g.shape[axis], -1)
            f = self.bs * f + (1 - self.bs) * unfolded @ unfolded.T
            self.factors[i][axis] = f
            if t % self.freq != 0:
                continue
            if t == self.freq:
                _, vectors = np.linalg.eigh(f)
                bases[axis] = vectors[:, ::-1]
            else:
                q = bases[axis]
                order = np.argsort(-np.diag(q.T @ f @ q), kind="stable")
                bases[axis] = np.linalg.qr(f @ q[:, order])[0]
                self.v[i] = np.take(self.v[i], order, axis=axis)
        return new


# --- Keras base-class behaviour around a reference -------------------------


def _clip(grads, clipnorm=None, clipvalue=None, global_clipnorm=None):
    if clipnorm:
        out = []
        for g in grads:
            norm = np.sqrt(np.sum(g * g))
            out.append(g * clipnorm / max(norm, clipnorm))
        return out
    if global_clipnorm:
        norm = np.sqrt(sum(np.sum(g * g) for g in grads))
        return [g * global_clipnorm / max(norm, global_clipnorm) for g in grads]
    if clipvalue:
        return [np.clip(g, -clipvalue, clipvalue) for g in grads]
    return grads


def run_reference(
    reference_cls,
    hyper,
    params,
    grad_steps,
    learning_rate,
    weight_decay=None,
    clipnorm=None,
    clipvalue=None,
    global_clipnorm=None,
    use_ema=False,
    ema_momentum=0.99,
    loss_scale_factor=None,
    gradient_accumulation_steps=None,
):
    """Runs a reference under Keras' base-class options.

    Args:
        learning_rate: a float, or a function of the call count k = 0, 1, ...
            (Keras evaluates schedules at its raw iteration counter).
        The other options mean what they mean for `keras.optimizers.Optimizer`.

    Returns:
        (list of parameter lists after each call, list of EMA parameter lists
        or None).
    """
    ref = reference_cls(params, **hyper)
    lr_at = learning_rate if callable(learning_rate) else (lambda k: learning_rate)
    accumulated = [np.zeros_like(p) for p in ref.params]
    ema = None
    history, ema_history = [], []
    for k, grads in enumerate(grad_steps):
        grads = [np.asarray(g, np.float64) for g in grads]
        if loss_scale_factor:
            grads = [g / loss_scale_factor for g in grads]
        lr = lr_at(k)
        update_now = True
        if gradient_accumulation_steps:
            n = gradient_accumulation_steps
            if (k + 1) % n != 0:
                accumulated = [a + g for a, g in zip(accumulated, grads)]
                update_now = False
            else:
                grads = [(g + a) / n for g, a in zip(grads, accumulated)]
                accumulated = [np.zeros_like(a) for a in accumulated]
        if update_now:
            grads = _clip(grads, clipnorm, clipvalue, global_clipnorm)
            if weight_decay and not ref.handles_weight_decay:
                ref.params = [p - p * weight_decay * lr for p in ref.params]
            ref.step(grads, lr)
        if use_ema:
            updates = k // gradient_accumulation_steps if gradient_accumulation_steps else k
            if ema is None or updates == 0:
                ema = [p.copy() for p in ref.params]
            else:
                ema = [
                    ema_momentum * e + (1 - ema_momentum) * p
                    for e, p in zip(ema, ref.params)
                ]
            ema_history.append([e.copy() for e in ema])
        history.append([p.copy() for p in ref.params])
    return history, (ema_history if use_ema else None)


# Issue 14 (sf): the Schedule-Free family.


class ScheduleFreeRef(Reference):
    """Defazio et al. (2024), Algorithm 1, with the three sequences held
    explicitly: x (the average), z (the base iterate), and the parameters
    y = (1 - beta) z + beta x where the gradient is taken. Per step t:
    gamma_t from `scheduled_lr`; lr_max = max(lr_max, gamma_t); weight
    w = t^r lr_max^p, W += w, c = w / W (0 while W = 0); d = direction(g)
    + lambda y; z -= gamma_t d; x = (1 - c) x + c z; y = (1 - beta) z +
    beta x. x_1 = z_1 = the initial parameters."""

    handles_weight_decay = True

    def setup_schedule_free(self, beta, r, weight_lr_power, weight_decay):
        self.beta, self.r, self.p = beta, r, weight_lr_power
        self.lam = weight_decay or 0.0
        self.x = [p.copy() for p in self.params]
        self.z = [p.copy() for p in self.params]
        self.lr_max, self.weight_sum = 0.0, 0.0

    def step(self, grads, lr):
        self.t += 1
        gamma = self.scheduled_lr(lr)
        self.lr_max = max(self.lr_max, gamma)
        weight = self.t ** self.r * self.lr_max ** self.p
        self.weight_sum += weight
        c = weight / self.weight_sum if self.weight_sum > 0 else 0.0
        for i, g in enumerate(grads):
            y = self.params[i]
            d = self.direction(i, np.asarray(g, np.float64)) + self.lam * y
            self.z[i] = self.z[i] - gamma * d
            self.x[i] = (1 - c) * self.x[i] + c * self.z[i]
            self.params[i] = (1 - self.beta) * self.z[i] + self.beta * self.x[i]

    def warmed_up(self, lr):
        return lr * min(1.0, self.t / self.T) if self.T else lr


class ScheduleFreeSGDRef(ScheduleFreeRef):
    """Schedule-Free SGD: d = g, gamma_t = lr min(1, t / warmup_steps)."""

    def setup(self, momentum=0.9, warmup_steps=0, r=0.0,
              weight_lr_power=2.0, weight_decay=None):
        self.T = warmup_steps
        self.setup_schedule_free(momentum, r, weight_lr_power, weight_decay)

    def scheduled_lr(self, lr):
        return self.warmed_up(lr)

    def direction(self, i, g):
        return g


class ScheduleFreeAdamWRef(ScheduleFreeRef):
    """Schedule-Free AdamW as in the authors' code: v = b2 v + (1 - b2) g^2,
    d = g / (sqrt(v / (1 - b2^t)) + eps), gamma_t = lr min(1, t / T)."""

    def setup(self, beta_1=0.9, beta_2=0.999, epsilon=1e-8, warmup_steps=0,
              r=0.0, weight_lr_power=2.0, weight_decay=None):
        self.b2, self.eps, self.T = beta_2, epsilon, warmup_steps
        self.v = self.zeros()
        self.setup_schedule_free(beta_1, r, weight_lr_power, weight_decay)

    def scheduled_lr(self, lr):
        return self.warmed_up(lr)

    def direction(self, i, g):
        self.v[i] = self.b2 * self.v[i] + (1 - self.b2) * g * g
        return g / (np.sqrt(self.v[i] / (1 - self.b2 ** self.t)) + self.eps)


class ScheduleFreeRAdamRef(ScheduleFreeAdamWRef):
    """The authors' RAdamScheduleFree: rho_inf = 2 / (1 - b2) - 1, rho_t =
    rho_inf - 2 t b2^t / (1 - b2^t); where rho_t > 4, Adam's d and gamma_t
    = lr sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2)
    rho_t)); else d = g and gamma_t = 0 (silent) or lr."""

    def setup(self, beta_1=0.9, beta_2=0.999, epsilon=1e-8, r=0.0,
              weight_lr_power=2.0, silent_sgd_phase=True, weight_decay=None):
        super().setup(beta_1, beta_2, epsilon, 0, r, weight_lr_power,
                      weight_decay)
        self.silent = silent_sgd_phase

    def rho(self):
        b2t = self.b2 ** self.t
        rho_inf = 2 / (1 - self.b2) - 1
        return rho_inf, rho_inf - 2 * self.t * b2t / (1 - b2t)

    def scheduled_lr(self, lr):
        rho_inf, rho_t = self.rho()
        if rho_t > 4:
            return lr * np.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                                / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
        return 0.0 if self.silent else lr

    def direction(self, i, g):
        normalized = super().direction(i, g)
        return normalized if self.rho()[1] > 4 else g

