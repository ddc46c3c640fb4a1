"""Casting machines: cast parameters, sequences, interlocks and the caster runner."""
