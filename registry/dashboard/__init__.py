"""What the brand console's pages read: the overview's numbers (through the scan log's aggregates),
a brand's twins a page at a time, one twin's recent scans. Nothing here writes."""
