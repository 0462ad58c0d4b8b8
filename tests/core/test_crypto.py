"""Moving a deploy from keys derived from SECRET_KEY to configured ones keeps old data readable."""

from cryptography.fernet import Fernet

from core.crypto import derived_key, fernet_for

PURPOSE = b"refund-desk status token v1"


def test_data_encrypted_with_the_derived_key_opens_once_it_is_listed_after_the_new_key(settings):
    old = fernet_for(configured=None, purpose=PURPOSE).encrypt(b"status token")
    new = Fernet.generate_key().decode()
    listed = f"{new},{derived_key(secret_key=settings.SECRET_KEY, purpose=PURPOSE)}"
    assert fernet_for(configured=listed, purpose=PURPOSE).decrypt(old) == b"status token"
    # and new data is written with the new key
    assert Fernet(new).decrypt(fernet_for(configured=listed, purpose=PURPOSE).encrypt(b"x")) == b"x"
