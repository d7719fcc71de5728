"""Penn Action trees written by the data tests: JPEG frame folders with a dot under each joint, `.mat` labels."""
import numpy as np
from PIL import Image

from deform3d.data.readers import write_penn_label


def paint(frame, x, y, r, value=255):
    "A `(2r+1)`-pixel square of `value` centred on `(x, y)` of `frame`, clipped at the top and left."
    frame[max(0, y - r):y + r + 1, max(0, x - r):x + r + 1] = value


def write_penn(root, specs, T=9, H=120, W=160, seed=0, visible_share=1.):
    "Penn Action at `root` (`frames/`, `labels/`) for `specs` of (name, action, is_train); joints visible at random."
    g = np.random.default_rng(seed)
    (root / 'labels').mkdir(parents=True, exist_ok=True)
    for name, action, is_train in specs:
        kp = np.stack([g.uniform(8, W - 8, (T, 13)), g.uniform(8, H - 8, (T, 13))], -1).round()
        d = root / 'frames' / name
        d.mkdir(parents=True, exist_ok=True)
        for t in range(T):
            img = np.zeros((H, W, 3), np.uint8)
            for x, y in kp[t].astype(int): paint(img, x, y, 3)
            Image.fromarray(img).save(d / f'{t + 1:06d}.jpg', quality=95)
        vis = g.uniform(size=(T, 13)) < visible_share if visible_share < 1 else np.ones((T, 13))
        write_penn_label(root / 'labels' / f'{name}.mat', action, kp, vis, train=is_train, dimensions=(H, W))
    return root
