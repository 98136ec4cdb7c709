"""PET quantification: SUV from DICOM headers (QIBA vendor-neutral rules, IBSI DROs), body-size normalisers.

Import from the submodules: ``ragaliv.pet.suv`` (``load_pet``, ``compute_suv_parameters``) and
``ragaliv.pet.body`` (lean body mass, BSA, IBW).
"""
