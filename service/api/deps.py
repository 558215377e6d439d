"""Annotated dependencies: routes receive the lifespan's resources through these.

They are `async def` on purpose: they do no blocking work, and a sync dependency
would cost a threadpool hop per request.
"""

from typing import Annotated

from fastapi import Depends, Request

from models.runtime import Encoders
from service.app_resources import AppResources
from service.search.query_encoder import QueryEncoder
from service.search.store_gateway import StoreGateway
from service.search.user_item_store import UserItemStore
from service.settings import ServiceSettings


async def get_resources(request: Request) -> AppResources:
    return request.app.state.resources


ResourcesDep = Annotated[AppResources, Depends(get_resources)]


async def get_settings(resources: ResourcesDep) -> ServiceSettings:
    return resources.settings


async def get_encoders(resources: ResourcesDep) -> Encoders:
    return resources.encoders


async def get_query_encoder(resources: ResourcesDep) -> QueryEncoder:
    return resources.query_encoder


async def get_weaviate(resources: ResourcesDep) -> StoreGateway:
    return resources.weaviate


async def get_user_items(resources: ResourcesDep) -> UserItemStore:
    return resources.user_items


SettingsDep = Annotated[ServiceSettings, Depends(get_settings)]
EncodersDep = Annotated[Encoders, Depends(get_encoders)]
QueryEncoderDep = Annotated[QueryEncoder, Depends(get_query_encoder)]
WeaviateDep = Annotated[StoreGateway, Depends(get_weaviate)]
UserItemsDep = Annotated[UserItemStore, Depends(get_user_items)]
