"""Wearables for game platforms: Decentraland's vocabulary, platform profiles a garment's models
must meet, and Decentraland linked-wearables (v2) mapping documents."""
