"""Static graphs: ``gc.compile`` traces a step once and replays it (front-end: helper E)."""
