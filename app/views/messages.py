"""Messages between intermediaries and the pool (threads, attachments, unread
state): staff inbox, the extranet's messages, the REST resources."""


def register(appbuilder):
    pass
