"""Pfeiffer TPG 361/362 vacuum gauge controller: serial ASCII with ACK/ENQ."""
