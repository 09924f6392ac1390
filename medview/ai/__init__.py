"""AI plugin platform (issue 4): contract, discovery, runner. Only torch_backend imports torch."""
