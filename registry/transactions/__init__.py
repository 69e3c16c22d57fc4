"""The service's transactions as callers follow them: relayed calls answered as pending (202) are
looked up here by hash until mined, reverted or replaced."""
