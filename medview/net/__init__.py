"""Network: DIMSE (pynetdicom) and DICOMweb (dicomweb-client) clients and a Storage SCP.

Qt-free (issue 9). Modules: :mod:`~medview.net.nodes` (remote node settings),
:mod:`~medview.net.dimse` (C-ECHO, C-FIND, C-STORE), :mod:`~medview.net.retrieve`
(C-GET, C-MOVE), :mod:`~medview.net.scp` (medview's Storage SCP), :mod:`~medview.net.web`
(QIDO-RS, WADO-RS, STOW-RS), :mod:`~medview.net.errors`. Import the submodules; this package
imports nothing heavy itself.
"""
