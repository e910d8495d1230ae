"""Everything people look at, each a reader of the log. Four families, each a sub-package that imports
only its own members, ``ol.store`` and ``ol.schemas`` (the dashboard also reads through analytics):

- ``console``: the live console of ``ol train`` / ``ol tail`` and ``ol events``' lines;
- ``analytics``: SQL views and compaction, tables and exports, chart series, plots, the notebook API;
- ``replay``: W&B and TensorBoard mirrors of a run;
- ``ui``: the browser dashboard (``ol ui``).
"""
