"""The typed wrapper round TenSEAL's ``sealapi`` (Microsoft SEAL's own API): the one
module that imports TenSEAL, which ships no type information.

Objects cross in SEAL's serialisation, which SEAL checks on load against the parameters.
The binding saves and loads through file paths only, so bytes pass through a private
scratch folder (mode 0700, removed at exit): ciphertexts and public keys, never a
secret key.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from biometric_exchange.blind import INSTALL_HINT
from biometric_exchange.blind.params import COEFF_BITS, POLY_DEGREE, ROTATION_STEPS, SCALE, SLOTS
from biometric_exchange.exceptions import BlindUnavailable, InvalidInput

Values = NDArray[np.float64] | NDArray[np.complex128]


class _Held:
    """A SEAL object held by reference; subclasses say which kind."""

    __slots__ = ("raw",)

    def __init__(self, raw: Any) -> None:
        self.raw = raw


class Cipher(_Held):
    """A CKKS ciphertext."""

    __slots__ = ()


class Plain(_Held):
    """A CKKS plaintext (encoded, not encrypted)."""

    __slots__ = ()


class GaloisKeys(_Held):
    """Rotation keys for ``ROTATION_STEPS``: public evaluation material."""

    __slots__ = ()


class PublicKey(_Held):
    """The requester's public encryption key."""

    __slots__ = ()


class SecretKey(_Held):
    """The requester's secret key: made by ``Engine.keygen``, never serialised here."""

    __slots__ = ()


def _sealapi() -> Any:
    try:
        import tenseal.sealapi as api  # noqa: PLC0415 - the optional extra, on first use
    except ImportError as exc:
        raise BlindUnavailable(f"blind identify needs TenSEAL: {INSTALL_HINT}") from exc
    return api


def galois_element(steps: int) -> int:
    """SEAL's Galois element of a left rotation by ``steps`` slots: 3**steps mod 2N."""
    return pow(3, steps, 2 * POLY_DEGREE)


@functools.cache
def _scratch() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="bx-blind-"))  # mode 0700
    atexit.register(shutil.rmtree, folder, True)
    return folder


class Engine:
    """SEAL's context for the parameter set, with its encoder and evaluator (safe to
    share between threads: SEAL's evaluator and encoder keep no state per call)."""

    def __init__(self) -> None:
        api = _sealapi()
        params = api.EncryptionParameters(api.SCHEME_TYPE.CKKS)
        params.set_poly_modulus_degree(POLY_DEGREE)
        params.set_coeff_modulus(api.CoeffModulus.Create(POLY_DEGREE, list(COEFF_BITS)))
        self.api = api
        self.context = api.SEALContext(params, True, api.SEC_LEVEL_TYPE.TC128)
        if not self.context.parameters_set():  # pragma: no cover - fixed parameters
            raise BlindUnavailable("SEAL refused the blind parameter set")
        self.encoder = api.CKKSEncoder(self.context)
        self.evaluator = api.Evaluator(self.context)
        data = self.context.first_context_data()
        self.rescale_prime = float(data.parms().coeff_modulus()[-1].value())
        """The prime the one rescale drops: the scale a multiplier is encoded at."""
        self.top = list(self.context.first_parms_id())
        self.last = list(self.context.last_parms_id())

    # --- encoding and arithmetic ----------------------------------------------------

    def encode(self, values: Values, *, at: Sequence[int], scale: float) -> Plain:
        """``values`` (at most ``SLOTS``) encoded at level ``at`` and ``scale``."""
        plain = self.api.Plaintext()
        self.encoder.encode(values.tolist(), list(at), scale, plain)
        return Plain(plain)

    def encode_like(self, values: Values, like: Cipher) -> Plain:
        """Encoded at the level and scale of ``like`` (for an addition)."""
        return self.encode(values, at=like.raw.parms_id(), scale=like.raw.scale)

    def rotate(self, cipher: Cipher, steps: int, keys: GaloisKeys) -> Cipher:
        out = self.api.Ciphertext()
        self.evaluator.rotate_vector(cipher.raw, steps, keys.raw, out)
        return Cipher(out)

    def multiply_plain(self, cipher: Cipher, plain: Plain) -> Cipher:
        out = self.api.Ciphertext()
        self.evaluator.multiply_plain(cipher.raw, plain.raw, out)
        return Cipher(out)

    def add_inplace(self, into: Cipher, other: Cipher) -> None:
        self.evaluator.add_inplace(into.raw, other.raw)

    def add_plain_inplace(self, into: Cipher, plain: Plain) -> None:
        self.evaluator.add_plain_inplace(into.raw, plain.raw)

    def rescale_inplace(self, cipher: Cipher) -> None:
        self.evaluator.rescale_to_next_inplace(cipher.raw)

    def at_last_level(self, cipher: Cipher) -> bool:
        return list(cipher.raw.parms_id()) == self.last

    # --- keys and encryption ----------------------------------------------------------

    def keygen(self) -> tuple[SecretKey, bytes, bytes]:
        """A fresh secret key, and its public key and Galois keys serialised."""
        generator = self.api.KeyGenerator(self.context)
        public = self.api.PublicKey()
        generator.create_public_key(public)
        elements = [galois_element(steps) for steps in ROTATION_STEPS]
        galois = generator.create_galois_keys(elements)
        return SecretKey(generator.secret_key()), self._save(public), self._save(galois)

    def encrypt_symmetric(self, secret: SecretKey, plain: Plain) -> bytes:
        """Encrypted under the secret key, serialised with SEAL's seed (half the size)."""
        encryptor = self.api.Encryptor(self.context, secret.raw)
        return self._save(encryptor.encrypt_symmetric(plain.raw))

    def encrypt_public(self, public: PublicKey, plain: Plain) -> Cipher:
        encryptor = self.api.Encryptor(self.context, public.raw)
        out = self.api.Ciphertext()
        encryptor.encrypt(plain.raw, out)
        return Cipher(out)

    def decrypt(self, secret: SecretKey, cipher: Cipher) -> NDArray[np.complex128]:
        plain = self.api.Plaintext()
        self.api.Decryptor(self.context, secret.raw).decrypt(cipher.raw, plain)
        return np.asarray(self.encoder.decode_complex(plain), dtype=np.complex128)

    # --- serialisation ----------------------------------------------------------------

    def save(self, cipher: Cipher) -> bytes:
        return self._save(cipher.raw)

    def load_cipher(self, data: bytes, *, level: str, what: str) -> Cipher:
        """A ciphertext of two parts at ``level`` ("top" or "last") and the scale of the
        parameter set; anything else (or what SEAL refuses) is ``InvalidInput``."""
        cipher = self.api.Ciphertext()
        self._load(cipher, data, what)
        expected = self.top if level == "top" else self.last
        if (
            cipher.size() != 2
            or not cipher.is_ntt_form()
            or cipher.is_transparent()
            or list(cipher.parms_id()) != expected
            or cipher.scale != SCALE
        ):
            raise InvalidInput(f"{what}: not a ciphertext of the blind parameter set")
        return Cipher(cipher)

    def load_public_key(self, data: bytes) -> PublicKey:
        key = self.api.PublicKey()
        self._load(key, data, "context.public_key")
        return PublicKey(key)

    def load_galois_keys(self, data: bytes) -> GaloisKeys:
        keys = self.api.GaloisKeys()
        self._load(keys, data, "context.galois_keys")
        if not all(keys.has_key(galois_element(steps)) for steps in ROTATION_STEPS):
            raise InvalidInput("context.galois_keys: rotation keys missing")
        return GaloisKeys(keys)

    def _save(self, obj: Any) -> bytes:
        path = _scratch() / uuid.uuid4().hex
        try:
            obj.save(str(path))
            return path.read_bytes()
        finally:
            path.unlink(missing_ok=True)

    def _load(self, obj: Any, data: bytes, what: str) -> None:
        path = _scratch() / uuid.uuid4().hex
        try:
            path.write_bytes(data)
            obj.load(self.context, str(path))
        except Exception as exc:  # SEAL raises ValueError, RuntimeError, IOError...
            raise InvalidInput(f"{what}: not valid for the blind parameter set") from exc
        finally:
            path.unlink(missing_ok=True)


@functools.cache
def engine() -> Engine:
    """The process's one engine (made on first use)."""
    return Engine()


def zeros() -> NDArray[np.float64]:
    return np.zeros(SLOTS, dtype=np.float64)
