"""3D CNN lung-nodule detector (CenterNet-style 3D U-Net), trained on the widened phantom."""
