"""Annotated dependencies: routes receive the lifespan's resources through these.

They are `async def` on purpose: they do no blocking work, and a sync dependency
would cost a threadpool hop per request.
"""

from typing import Annotated

from fastapi import Depends, Request

from models.encoders import LoadedEncoders
from service.resources import Resources, StoreHandle
from service.settings import ServiceSettings


async def get_resources(request: Request) -> Resources:
    return request.app.state.resources


ResourcesDep = Annotated[Resources, Depends(get_resources)]


async def get_settings(resources: ResourcesDep) -> ServiceSettings:
    return resources.settings


async def get_encoders(resources: ResourcesDep) -> LoadedEncoders:
    return resources.encoders


async def get_store(resources: ResourcesDep) -> StoreHandle:
    return resources.store


SettingsDep = Annotated[ServiceSettings, Depends(get_settings)]
EncodersDep = Annotated[LoadedEncoders, Depends(get_encoders)]
StoreDep = Annotated[StoreHandle, Depends(get_store)]
