"""DigitBridge search service: upload a digit image or a spoken digit, get the other."""
