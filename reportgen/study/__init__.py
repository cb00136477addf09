"""The study: what the experiments' records say together (comparison chapter, changes since the
last run, commentary). A function of the records only: no model, no image, no manifest."""
