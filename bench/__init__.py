"""Benchmarks of xnat-sdk against xnatpy 0.8.1 on the same emulator, in the same run.

``make bench`` runs ``python -m bench``. Each measurement runs in a fresh interpreter (so neither
client profits from the other's caches or imports), the two clients alternate, and each figure
is the median of several runs. Results are ratios: the machines are shared and noisy.
"""
