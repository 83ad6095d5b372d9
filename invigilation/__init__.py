"""The invigilator's side: sittings, the live register, start and end."""
