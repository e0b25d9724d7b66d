"""Reading 照合番号B from the card face: see docs/cardface.md."""
