"""Trajectories over contour plots, as PNG pictures and animated GIFs."""

import numpy as np

from keras_optlab import atomic
from keras_optlab.lab.landscape import functions


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    return pyplot


def _grid_values(function, resolution=200):
    """Values of a 2-D function on a grid over its bounds (numpy)."""
    (x0, x1), (y0, y1) = function.bounds
    xs, ys = np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution)
    grid_x, grid_y = np.meshgrid(xs, ys)
    values = np.asarray(function.value(np.stack([grid_x, grid_y])))
    return grid_x, grid_y, values


def _draw_background(axes, function):
    if function.dimension == 1:
        (x0, x1), = function.bounds
        xs = np.linspace(x0, x1, 400)
        axes.plot(xs, np.asarray(function.value(xs[None, :])), color="0.4",
                  lw=1.5, zorder=1)
        axes.set_xlim(x0, x1)
        axes.set_xlabel("x")
        axes.set_ylabel("f(x)")
    else:
        grid_x, grid_y, values = _grid_values(function)
        if function.log_contours:
            levels = np.logspace(np.log10(max(values.min(), 1e-3)),
                                 np.log10(values.max()), 25)
            shown = np.log10(np.maximum(values, 1e-3))
            axes.contourf(grid_x, grid_y, shown, levels=np.log10(levels),
                          cmap="Blues_r", alpha=0.6, zorder=0)
            axes.contour(grid_x, grid_y, values, levels=levels, colors="0.5",
                         linewidths=0.4, zorder=0)
        else:
            axes.contourf(grid_x, grid_y, values, levels=25, cmap="Blues_r",
                          alpha=0.6, zorder=0)
            axes.contour(grid_x, grid_y, values, levels=25, colors="0.5",
                         linewidths=0.4, zorder=0)
        (x0, x1), (y0, y1) = function.bounds
        axes.set_xlim(x0, x1)
        axes.set_ylim(y0, y1)
        axes.set_xlabel("x")
        axes.set_ylabel("y")
    for minimum in function.minima:
        if function.dimension == 1:
            axes.plot(minimum[0], 0.0, "k*", ms=12, zorder=5)
        else:
            axes.plot(*minimum, "k*", ms=12, zorder=5)


def _xy(function, path):
    """The drawn coordinates of a path: (x, y) or (x, f(x)) in 1-D."""
    path = np.asarray(path, dtype=np.float64)
    if function.dimension == 1:
        return path[:, 0], np.asarray(function.value(path.T))
    return path[:, 0], path[:, 1]


def plot_trajectories(function, paths, path, title=None, size=(6, 5),
                      dpi=100):
    """Draws each optimizer's path over the function; writes a PNG.

    Args:
        function: a `TestFunction` or its name.
        paths: {label: array of points (steps + 1, dimension)}.
        path: where to write the PNG.
    """
    if isinstance(function, str):
        function = functions.get(function)
    pyplot = _pyplot()
    figure, axes = pyplot.subplots(figsize=size, dpi=dpi)
    _draw_background(axes, function)
    for index, (label, points) in enumerate(paths.items()):
        xs, ys = _xy(function, points)
        axes.plot(xs, ys, "-", color=f"C{index}", lw=1.2, label=label,
                  marker="o" if len(xs) < 30 else None, ms=3, zorder=3)
        axes.plot(xs[-1:], ys[-1:], "o", color=f"C{index}", ms=6,
                  mec="k", zorder=4)
    axes.set_title(title or function.formula, fontsize=10)
    axes.legend(loc="best", fontsize=8)
    figure.tight_layout()
    atomic.write_atomically(path, figure.savefig)
    pyplot.close(figure)
    return path


def animate_trajectories(function, paths, path, frames=50, fps=12,
                         title=None, size=(5, 4), dpi=72):
    """The same picture as `plot_trajectories`, growing step by step, as an
    animated GIF (matplotlib's PillowWriter)."""
    from matplotlib import animation

    if isinstance(function, str):
        function = functions.get(function)
    pyplot = _pyplot()
    figure, axes = pyplot.subplots(figsize=size, dpi=dpi)
    _draw_background(axes, function)
    length = max(len(points) for points in paths.values())
    # Frames spaced evenly in log(step): early steps move the most.
    marks = np.unique(np.round(np.geomspace(1, length, frames)).astype(int))
    lines = []
    coordinates = []
    for index, (label, points) in enumerate(paths.items()):
        coordinates.append(_xy(function, points))
        lines.append(axes.plot([], [], "-", color=f"C{index}", lw=1.2,
                               label=label, zorder=3)[0])
    axes.legend(loc="best", fontsize=7)
    counter = axes.set_title("", fontsize=9)
    figure.tight_layout()

    def draw(mark):
        for line, (xs, ys) in zip(lines, coordinates):
            line.set_data(xs[:mark], ys[:mark])
        counter.set_text(f"{title or function.name}: step {mark - 1}")
        return lines

    movie = animation.FuncAnimation(figure, draw, frames=marks, blit=False)
    atomic.write_atomically(
        path, lambda temporary: movie.save(
            temporary, writer=animation.PillowWriter(fps=fps)))
    pyplot.close(figure)
    return path
