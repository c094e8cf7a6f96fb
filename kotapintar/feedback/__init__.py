"""The citizen's answer loop: confirm or dispute the agency's answer, and the IKM survey after closure."""
