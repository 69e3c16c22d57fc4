"""Consent the owner signs (issue 23, item 4): SIWE with an EIP-5573 ReCap naming the brand."""
