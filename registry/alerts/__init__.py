"""Scan intelligence, part two: rules over a twin's recent scans raise alerts whose evidence (tap
cryptograms or signatures, the twin's chain state at a block) a third party can re-check offline."""
