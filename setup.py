"""Packaging beyond pyproject.toml: the bundled recipes.

The recipes live in the repository's top-level tuning/ folder (their one
copy) and ship inside the package as `keras_optlab.recipes` (package data,
read with importlib.resources), so `optlab tune quick` works from any folder
after `pip install keras-optlab`. pyproject.toml's package finder cannot
list a package mapped to another folder, so the packages are listed here.
"""

from setuptools import find_namespace_packages
from setuptools import setup

setup(
    packages=find_namespace_packages(
        include=["keras_optlab", "keras_optlab.*"],
        exclude=["*.__pycache__"]) + ["keras_optlab.recipes"],
    package_dir={"keras_optlab.recipes": "tuning"},
    package_data={"keras_optlab.recipes": ["*.toml"]},
)
