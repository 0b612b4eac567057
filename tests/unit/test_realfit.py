"""The synthetic template model sits where real face_recognition encodings sit.

Computed at test time: the real photos that scikit-image and matplotlib ship,
encoded with the installed dlib model (nothing downloaded, nothing stored).
Tolerances: model mean norm within 0.03 of the real one, model norm spread
within a factor 1.5 of the real one, the model's centre within 0.08 of the
real mean vector (cosine at least 0.98), and the shipped centre within 0.03 of
the one this smaller run fits.
"""

from __future__ import annotations

import numpy as np
import pytest

from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.synthetic.calibration import calibrate
from biometric_exchange.synthetic.realfit import (
    LFW_FACES,
    RealEncodings,
    encode_real_faces,
    fit_centre,
    real_faces,
)
from biometric_exchange.synthetic.templates import TemplateModel


@pytest.fixture(scope="module")
def real() -> RealEncodings:
    return encode_real_faces(augmentations=4, lfw_augmentations=0, seed=7)


def test_the_real_photos_are_the_shipped_ones_and_all_encode(real: RealEncodings) -> None:
    assert real.names[:2] == ("astronaut", "grace_hopper")
    assert len(real.names) == 2 + LFW_FACES
    per_photo = np.bincount(real.photo, minlength=len(real.names))
    assert per_photo[:2].tolist() == [5, 5]  # as shipped plus 4 variants, each detected
    assert (per_photo[2:] == 1).all()
    norms = real.norms
    assert 1.25 < float(norms.mean()) < 1.5  # real encodings are far from the origin
    # Augmented variants of one photo stay one person; the two photos are two people.
    astronaut, hopper = real.templates[real.photo == 0], real.templates[real.photo == 1]
    assert np.linalg.norm(astronaut - astronaut[0], axis=1).max() < 0.45
    assert np.linalg.norm(astronaut[0] - hopper[0]) > 0.6


def test_model_norms_and_mean_fit_the_real_encodings(real: RealEncodings) -> None:
    model = TemplateModel()
    rng = np.random.default_rng(3)
    templates = model.captures(model.latents(rng, 20_000), rng).astype(np.float64)
    norms = np.linalg.norm(templates, axis=1)
    real_norms = real.norms
    assert abs(norms.mean() - real_norms.mean()) < 0.03
    assert 1 / 1.5 < norms.std() / real_norms.std(ddof=1) < 1.5
    centre, real_mean = np.asarray(model.centre), real.mean()
    assert np.linalg.norm(templates.mean(axis=0) - centre) < 0.01
    assert np.linalg.norm(centre - real_mean) < 0.08
    cosine = centre @ real_mean / np.linalg.norm(centre) / np.linalg.norm(real_mean)
    assert cosine > 0.98
    refit = fit_centre(real, model.spread2()).centre
    assert np.linalg.norm(refit - centre) < 0.03
    # The zero vector no longer lies near any template (it did for 39 % at norm 0.62).
    assert norms.min() > 0.6


def test_distances_keep_their_calibration() -> None:
    report = calibrate(pairs=20_000, seed=2017).group("all")
    assert report.genuine.mean == pytest.approx(0.41, abs=0.01)
    assert report.impostor.mean == pytest.approx(0.87, abs=0.01)
    assert report.accuracy == pytest.approx(0.9938, abs=0.002)


def test_spread_matches_drawn_templates() -> None:
    model = TemplateModel()
    rng = np.random.default_rng(5)
    templates = model.captures(model.latents(rng, 50_000), rng)
    spread2 = np.mean(np.sum((templates - model.centre_vector) ** 2, axis=1))
    assert float(spread2) == pytest.approx(model.spread2(), rel=0.01)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(InvalidInput, match="lfw"):
        real_faces(lfw=101)
    with pytest.raises(InvalidInput, match="augmentations"):
        encode_real_faces(augmentations=-1)
    with pytest.raises(InvalidInput, match="dim"):
        TemplateModel(dim=3)
