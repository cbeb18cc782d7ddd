"""Input and output: the case-file schema, OVF files, ParaView/CSV results and pictures."""
