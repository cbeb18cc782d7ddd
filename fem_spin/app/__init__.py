"""The application: run a case end to end, sweeps, the paper's studies, the command line."""
