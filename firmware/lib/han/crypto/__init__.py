"""AES-GCM for DLMS general-glo-ciphering, built on the AES-ECB primitive the board has."""
