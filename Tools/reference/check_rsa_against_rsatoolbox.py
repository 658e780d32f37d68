#!/usr/bin/env python3
"""Checks files `berg rsa` wrote against rsatoolbox itself, live (not against fixtures):
BERGAnalysisTests' RSAReferenceTests calls it with a folder holding

- patterns.npy: float64 [N, P] stimulus patterns;
- rdms.h5: RDMs of those patterns written by BERG (RDMFile), named 'correlation' and
  'sqeuclidean_per_unit', loaded here with rsatoolbox.rdm.load_rdm(path, file_type='hdf5');
- comparisons.json: BERG's {method: value} of the two RDMs, for corr, spearman, tau-a, cosine.

and prints one JSON object: the loaded names and stimulus names, and the largest relative
error (max|ours − rsatoolbox| / max|rsatoolbox|) of each RDM and comparison against rsatoolbox
0.3.2 recomputing them with calc_rdm ('correlation', 'euclidean') and compare.

    Tools/reference/.venv/bin/python Tools/reference/check_rsa_against_rsatoolbox.py FOLDER

Run by `make test-reference`; `make test` never needs Python.
"""
import json
import os
import sys

import numpy as np
from rsatoolbox.data import Dataset
from rsatoolbox.rdm import calc_rdm, compare, load_rdm


def relative(ours, reference):
    ours, reference = np.asarray(ours, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    return float(np.max(np.abs(ours - reference)) / max(np.max(np.abs(reference)), 1e-300))


def main(folder):
    patterns = np.load(os.path.join(folder, "patterns.npy"))
    loaded = load_rdm(os.path.join(folder, "rdms.h5"), file_type="hdf5")
    names = [str(n) for n in loaded.rdm_descriptors["name"]]
    ours = {name: loaded.subset("name", name) for name in names}
    dataset = Dataset(patterns)
    reference = {"correlation": calc_rdm(dataset, method="correlation"),
                 "sqeuclidean_per_unit": calc_rdm(dataset, method="euclidean")}
    errors = {name: relative(ours[name].dissimilarities, reference[name].dissimilarities) for name in reference}
    with open(os.path.join(folder, "comparisons.json")) as f:
        berg_values = json.load(f)
    for method, value in berg_values.items():
        expected = compare(reference["correlation"], reference["sqeuclidean_per_unit"], method=method)[0, 0]
        errors[f"compare {method}"] = relative([value], [expected])
    print(json.dumps({
        "names": names,
        "stimulus_names": [str(s) for s in loaded.pattern_descriptors.get("stimulus_names", [])],
        "dissimilarity_measure": str(loaded.dissimilarity_measure),
        "errors": errors,
    }))


if __name__ == "__main__":
    main(sys.argv[1])
