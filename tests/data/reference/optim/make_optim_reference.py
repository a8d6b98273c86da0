# Generates the golden optimizer and scheduler values used by tests/train/test_optimizer.cpp and
# tests/train/test_scheduler.cpp, with PyTorch (2.4.1 was used). Not run by the tests or CI:
#   python make_optim_reference.py   (in this folder)
import math

import numpy as np
import torch

torch.manual_seed(0)
rng = np.random.default_rng(1234)

# Adam with coupled weight decay, 5 steps, two parameters; gradients clipped to a global L2 norm of 0.1
# before each step, as the solution's training loop does (clip_grad_norm_ then optimizer.step()).
p0 = rng.standard_normal((3, 4)).astype(np.float32)
q0 = rng.standard_normal((5,)).astype(np.float32)
grads_p = rng.standard_normal((5, 3, 4)).astype(np.float32)
grads_q = rng.standard_normal((5, 5)).astype(np.float32) * 3
p = torch.tensor(p0, requires_grad=True)
q = torch.tensor(q0, requires_grad=True)
opt = torch.optim.Adam([p, q], lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-4)
after_p, after_q, norms = [], [], []
for k in range(5):
    opt.zero_grad()
    p.grad = torch.tensor(grads_p[k])
    q.grad = torch.tensor(grads_q[k])
    norms.append(float(torch.nn.utils.clip_grad_norm_([p, q], 0.1)))
    opt.step()
    after_p.append(p.detach().numpy().copy())
    after_q.append(q.detach().numpy().copy())
np.save("adam_p0.npy", p0)
np.save("adam_q0.npy", q0)
np.save("adam_grads_p.npy", grads_p)
np.save("adam_grads_q.npy", grads_q)
np.save("adam_after_p.npy", np.stack(after_p))
np.save("adam_after_q.npy", np.stack(after_q))
np.save("adam_norms.npy", np.array(norms, dtype=np.float64))


def lrs(make, steps, metrics=None):
    w = torch.zeros(1, requires_grad=True)
    o = torch.optim.Adam([w], lr=1e-4)
    s = make(o)
    out = [o.param_groups[0]["lr"]]
    for e in range(steps):
        if metrics is None:
            s.step()
        else:
            s.step(metrics[e])
        out.append(o.param_groups[0]["lr"])
    return out


rows = []
for t_max, eta in [(10, 1e-6), (4, 0.0)]:
    v = lrs(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=t_max, eta_min=eta), 25)
    rows += [("cosine", f"{t_max} {eta}", e, x) for e, x in enumerate(v)]
for t0, mult, eta in [(3, 1, 1e-6), (2, 2, 1e-7)]:
    v = lrs(lambda o: torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=t0, T_mult=mult, eta_min=eta), 25)
    rows += [("warm_restarts", f"{t0} {mult} {eta}", e, x) for e, x in enumerate(v)]
metrics = [0.5, 0.6, 0.6, 0.6, 0.6, 0.61, 0.61, 0.61, 0.61, 0.61, 0.61, 0.61, 0.61, 0.61, 0.7, 0.7, 0.7, 0.7,
           0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7]
v = lrs(lambda o: torch.optim.lr_scheduler.ReduceLROnPlateau(o, mode="max", factor=0.1, patience=2,
                                                              threshold=1e-7, min_lr=1e-7), 25, metrics)
rows += [("plateau", " ".join(str(m) for m in metrics), e, x) for e, x in enumerate(v)]
with open("schedulers.csv", "w") as f:
    f.write("scheduler,args,epoch,lr\n")
    for name, args, e, x in rows:
        f.write(f"{name},{args},{e},{x!r}\n")
