"""The broker extranet and the digital customer folder."""


def register(appbuilder):
    pass
