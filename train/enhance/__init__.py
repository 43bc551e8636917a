"""Low-light enhancement: Zero-DCE++-style curve maps estimated at low resolution, applied at full resolution."""
