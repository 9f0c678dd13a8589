"""The course's model zoo: readable PyTorch versions of the classic CNNs, named as torchvision
names them and with the same parameter counts (torchvision itself is not needed).

Every builder takes ``num_classes``. Build big models on the meta device to inspect them without
allocating their weights::

    import torch
    from cnnkit.models import vgg16
    from cnnkit.inspect import count_params
    with torch.device("meta"):
        model = vgg16()
    count_params(model)   # 138,357,544

Families (one file each): lenet, alexnet, vgg, nin, googlenet, resnet (with pre-activation,
Wide ResNet, ResNeXt, SE-ResNet), densenet, squeezenet, cifar (the 32x32 ResNet-20/56 and their
plain twins).
"""
from .alexnet import AlexNet, alexnet
from .cifar import CifarBlock, CifarResNet, cifar_resnet, plain20, plain56, resnet20, resnet56
from .densenet import DenseBlock, DenseLayer, DenseNet, Transition, densenet121
from .googlenet import (GOOGLENET_MODULES, BasicConv2d, GoogLeNet, Inception, InceptionAux,
                        InceptionModule, googlenet)
from .lenet import C3_TABLE, LeNet5, RBFOutput, SparseConv2d, Subsampling, lenet5
from .nin import NiN, mlpconv, nin
from .resnet import (BasicBlock, Bottleneck, PreActBlock, ResNet, SEBlock, preact_resnet18, resnet18,
                     resnet34, resnet50, resnet101, resnet152, resnext50_32x4d, se_resnet50,
                     wide_resnet50_2)
from .squeezenet import Fire, FireModule, SqueezeNet, squeezenet1_0, squeezenet1_1
from .vgg import VGG, VGG_CONFIGS, vgg, vgg11, vgg13, vgg16, vgg16_bn, vgg19

BUILDERS = {
    "lenet5": lenet5, "alexnet": alexnet, "vgg11": vgg11, "vgg13": vgg13, "vgg16": vgg16,
    "vgg19": vgg19, "vgg16_bn": vgg16_bn, "nin": nin, "googlenet": googlenet,
    "resnet18": resnet18, "resnet34": resnet34, "resnet50": resnet50, "resnet101": resnet101,
    "resnet152": resnet152, "preact_resnet18": preact_resnet18, "wide_resnet50_2": wide_resnet50_2,
    "resnext50_32x4d": resnext50_32x4d, "se_resnet50": se_resnet50, "densenet121": densenet121,
    "squeezenet1_0": squeezenet1_0, "squeezenet1_1": squeezenet1_1, "cifar_resnet": cifar_resnet,
    "resnet20": resnet20, "resnet56": resnet56, "plain20": plain20, "plain56": plain56,
}

__all__ = sorted(set(BUILDERS) | {
    "AlexNet", "BasicBlock", "BasicConv2d", "Bottleneck", "C3_TABLE", "CifarBlock", "CifarResNet",
    "DenseBlock", "DenseLayer", "DenseNet", "Fire", "FireModule", "GOOGLENET_MODULES", "GoogLeNet",
    "Inception", "InceptionAux", "InceptionModule", "LeNet5", "NiN", "PreActBlock", "RBFOutput",
    "ResNet", "SEBlock", "SparseConv2d", "SqueezeNet", "Subsampling", "Transition", "VGG",
    "VGG_CONFIGS", "mlpconv", "vgg", "BUILDERS",
})
